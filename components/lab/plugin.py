"""Executes a CNI plugin the way a runtime does: CNI_* environment, config on stdin, JSON back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

from components.lab import netns as netns_mod
from components.lab.errors import LabError
from components.lab.result import error_message
from components.lab.run import run

CNI_PATH = "/usr/lib/cni"
PLUGIN_TIMEOUT = 30.0
_SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Attachment:
    """The (container, netns, ifname) triple a CNI attachment is keyed by, plus CNI_ARGS."""

    container_id: str
    netns_path: str
    ifname: str
    args: str = ""


def environment(command: str, att: Attachment, cni_path: str) -> Dict[str, str]:
    """A clean environment with just the CNI variables, so nothing leaks in from ours."""
    return {
        "PATH": _SAFE_PATH,
        "CNI_COMMAND": command,
        "CNI_CONTAINERID": att.container_id,
        "CNI_NETNS": att.netns_path,
        "CNI_IFNAME": att.ifname,
        "CNI_ARGS": att.args,
        "CNI_PATH": cni_path,
    }


def invoke(
    command: str,
    plugin: str,
    config: Mapping[str, Any],
    att: Attachment,
    *,
    inside: Optional[str] = None,
    cni_path: str = CNI_PATH,
    timeout: float = PLUGIN_TIMEOUT,
) -> Dict[str, Any]:
    """Run `plugin` for command (inside the given netns, as a node would); the parsed result or LabError."""
    binary = os.path.join(cni_path, plugin)
    argv = [binary] if inside is None else netns_mod.exec_argv(inside, [binary])
    proc = run(
        argv,
        input=json.dumps(config),
        env=environment(command, att, cni_path),
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        text, err = error_message(proc.stdout)
        where = f" in netns {inside!r}" if inside else ""
        raise LabError(argv, proc.returncode, proc.stderr, reason=f"CNI {command} {plugin}{where} failed: {text}", cni_error=err)
    if not proc.stdout.strip():
        return {}
    try:
        parsed = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise LabError(argv, proc.returncode, proc.stderr, reason=f"CNI {command} {plugin} printed non-JSON: {proc.stdout[:200]!r}") from exc
    if not isinstance(parsed, dict):
        raise LabError(argv, proc.returncode, proc.stderr, reason=f"CNI {command} {plugin} printed {parsed!r}, not an object")
    return parsed
