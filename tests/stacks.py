"""Read the repository's stack files the way the engine hands config to the program."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from components.settings import PROJECT, stack_file_config

ROOT = Path(__file__).resolve().parent.parent
__all__ = ["PROJECT", "ROOT", "stack_config"]


def stack_config(stack: str) -> dict[str, Any]:
    """The project's keys of Pulumi.<stack>.yaml, without the `macvlan-testbed:` prefix."""
    return stack_file_config(str(ROOT / f"Pulumi.{stack}.yaml"))
