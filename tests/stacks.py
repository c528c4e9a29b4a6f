"""Read the repository's stack files the way the engine hands config to the program."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "macvlan-testbed"


def stack_config(stack: str) -> dict[str, Any]:
    """The project's keys of Pulumi.<stack>.yaml, without the `macvlan-testbed:` prefix."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    prefix = PROJECT + ":"
    return {key[len(prefix):]: value for key, value in document["config"].items() if key.startswith(prefix)}
