"""Run the real program under Pulumi's mocks and record what it registers.

The mocks must be installed before the program is imported, so every run resets the
runtime, installs fresh mocks and config, then executes __main__.py.
"""
from __future__ import annotations

import json
import runpy
from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.stacks import PROJECT, ROOT


@dataclass
class Registered:
    """One resource as the engine would have seen it."""

    type: str
    name: str
    inputs: dict[str, Any]
    provider: str | None
    urn: str = ""
    parent: str = ""
    dependencies: tuple[str, ...] = ()


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, also keeping each request's parent and dependencies."""

    def __init__(self, mocks: "RecordingMocks") -> None:
        super().__init__(mocks)
        self.recorder = mocks

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        for resource in reversed(self.recorder.resources):
            if resource.name == request.name and resource.type == request.type:
                resource.urn = response.urn
                resource.parent = request.parent
                resource.dependencies = tuple(request.dependencies)
                break
        return response


class RecordingMocks(pulumi.runtime.Mocks):
    """Echo inputs back as outputs, and remember every registration."""

    def __init__(self) -> None:
        self.resources: list[Registered] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.resources.append(Registered(args.typ, args.name, dict(args.inputs), args.provider))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@dataclass
class ProgramRun:
    resources: list[Registered]
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registered:
        return next(r for r in self.resources if r.name == name)


def _config_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_program(config: Mapping[str, Any], stack: str = "dev", preview: bool = False) -> ProgramRun:
    """Execute __main__.py with `config` (keys without the project prefix) under mocks."""
    mocks = RecordingMocks()
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview,
                             monitor=RecordingMonitor(mocks))
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": _config_text(v) for k, v in config.items()})
    run = ProgramRun(resources=mocks.resources)

    def program() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    _sync_await(run_pulumi_func(program))
    stack_resource = runtime_settings.get_root_resource()
    for name, value in stack_resource.outputs.items():  # type: ignore[union-attr]
        run.outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    return run
