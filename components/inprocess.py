"""Run __main__.py in this process against a mock monitor: the mocks tier and the CLI-less lab share it.

The SDK's mocks must be installed before the program is imported, so each run resets the
runtime, installs fresh mocks and config, then executes the program file.
"""
from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any, Mapping, Optional

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.settings import PROJECT

ROOT = Path(__file__).resolve().parent.parent


def _config_text(value: Any) -> str:
    """Config as the language host hands it over: strings, structures as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def run_program(
    mocks: pulumi.runtime.Mocks,
    config: Mapping[str, Any],
    stack: str,
    monitor: Optional[MockMonitor] = None,
    preview: bool = False,
) -> dict[str, Any]:
    """Execute the program with `config` (keys without the project prefix); return its stack outputs."""
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=monitor or MockMonitor(mocks))
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": _config_text(v) for k, v in config.items()})

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    stack_resource = runtime_settings.get_root_resource()
    return {name: _resolve(value) for name, value in stack_resource.outputs.items()}  # type: ignore[union-attr]


def _resolve(value: Any) -> Any:
    """Await Outputs; plain exports stay as they are (lifting big plain data costs seconds)."""
    if isinstance(value, pulumi.Output):
        return _sync_await(value.future())
    return value
