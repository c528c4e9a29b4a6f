"""Network namespace primitives the lab builds on: add, delete, list, inspect, run inside."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Iterable, List, Mapping, Optional, Sequence

from components.lab.errors import LabError
from components.lab.names import NETNS_DIR
from components.lab.run import run

OWNER_ALIAS = "mvtb-lab="
"""Written as the ifalias of each lab netns's lo, so a prefix shared by two lab_ids is told apart."""


def exists(name: str) -> bool:
    """True when the named netns is mounted."""
    return os.path.exists(os.path.join(NETNS_DIR, name))


def list_names(prefix: str) -> List[str]:
    """Names of mounted namespaces starting with prefix, sorted."""
    try:
        entries = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if e.startswith(prefix))


def exec_argv(name: str, argv: Sequence[str]) -> List[str]:
    """argv that runs a command inside the named netns."""
    return ["ip", "netns", "exec", name, *argv]


def add(name: str, owner: str) -> bool:
    """Create the netns with lo up and an owner mark; False if it already existed."""
    if exists(name):
        return False
    run(["ip", "netns", "add", name])
    try:
        run(["ip", "-n", name, "link", "set", "dev", "lo", "up", "alias", OWNER_ALIAS + owner])
    except BaseException:
        delete(name)
        raise
    return True


def owner(name: str) -> Optional[str]:
    """The lab_id marked on the netns's lo, or None when unmarked or gone."""
    proc = run(["ip", "-j", "-n", name, "link", "show", "dev", "lo"], check=False)
    if proc.returncode != 0:
        return None
    links = json.loads(proc.stdout or "[]")
    alias = links[0].get("ifalias", "") if links else ""
    return alias[len(OWNER_ALIAS):] if alias.startswith(OWNER_ALIAS) else None


def links(name: str) -> List[str]:
    """Interface names inside the netns other than lo (empty when the netns is gone)."""
    proc = run(["ip", "-j", "-n", name, "link", "show"], check=False)
    if proc.returncode != 0:
        return []
    return sorted(link["ifname"] for link in json.loads(proc.stdout or "[]") if link["ifname"] != "lo")


def link_exists(name: str, ifname: str) -> bool:
    """True when ifname exists inside the netns."""
    return run(["ip", "-n", name, "link", "show", "dev", ifname], check=False).returncode == 0


def pids(name: str) -> List[int]:
    """Processes living in the netns (empty when the netns is gone)."""
    proc = run(["ip", "netns", "pids", name], check=False)
    if proc.returncode != 0:
        return []
    return sorted(int(p) for p in proc.stdout.split())


def sysctl(name: str, settings: Mapping[str, str]) -> None:
    """Set per-namespace sysctls inside the netns."""
    argv = ["sysctl", "-q", "-w", *(f"{k}={v}" for k, v in settings.items())]
    run(exec_argv(name, argv))


def _signal_all(found: Iterable[int], sig: int) -> None:
    """Signal each pid, ignoring ones that already exited."""
    for pid in found:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def kill_all(name: str, grace: float = 2.0) -> None:
    """End the processes our lab started in the netns: TERM, then KILL after grace seconds."""
    found = pids(name)
    if not found:
        return
    _signal_all(found, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pids(name):
            return
        time.sleep(0.05)
    _signal_all(pids(name), signal.SIGKILL)
    deadline = time.monotonic() + grace
    while pids(name):
        if time.monotonic() > deadline:
            raise LabError(["ip", "netns", "pids", name], 0, "", reason=f"processes survive SIGKILL in netns {name!r}")
        time.sleep(0.05)


def delete(name: str) -> None:
    """Delete the netns after ending its processes (so it really goes); no-op when absent."""
    if not exists(name):
        return
    kill_all(name)
    proc = run(["ip", "netns", "delete", name], check=False)
    if proc.returncode != 0 and exists(name):
        raise LabError(["ip", "netns", "delete", name], proc.returncode, proc.stderr)
