"""Lists what a lab left behind (namespaces, links, leases, processes), for tests and for down."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

from components.lab import netns
from components.lab.names import Lab


@dataclass(frozen=True)
class Leftovers:
    """Everything of one lab_id still present; falsy when the lab is gone."""

    netns: Tuple[str, ...]
    links: Dict[str, Tuple[str, ...]]
    """Non-lo links per leftover netns."""
    leases: Tuple[str, ...]
    """host-local lease files (named after an IP) under the state dir."""
    processes: Dict[str, Tuple[int, ...]]
    """pids per leftover netns."""

    def __bool__(self) -> bool:
        return bool(self.netns or self.leases or any(self.processes.values()))

    def describe(self) -> str:
        """Human-readable summary for assertion messages."""
        if not self:
            return "nothing left"
        return (
            f"netns={list(self.netns)} links={ {k: list(v) for k, v in self.links.items() if v} } "
            f"leases={list(self.leases)} processes={ {k: list(v) for k, v in self.processes.items() if v} }"
        )


def lab_namespaces(lab: Lab) -> List[str]:
    """Namespaces with this lab's prefix, minus ones marked as another lab's (prefix "a-" vs lab "a-b")."""
    found = []
    for name in netns.list_names(lab.prefix):
        mark = netns.owner(name)
        if mark is None or mark == lab.lab_id:
            found.append(name)
    return found


def is_lease(filename: str) -> bool:
    """host-local names each lease file after the address it reserves."""
    try:
        ipaddress.ip_address(filename)
    except ValueError:
        return False
    return True


def lease_files(state_dir: str) -> List[str]:
    """Lease files anywhere under a state dir, sorted."""
    found = []
    for root, _dirs, files in os.walk(state_dir):
        found.extend(os.path.join(root, f) for f in files if is_lease(f))
    return sorted(found)


def find_leftovers(lab: Lab) -> Leftovers:
    """Snapshot of what the lab still holds on this host."""
    names = tuple(lab_namespaces(lab))
    return Leftovers(
        netns=names,
        links={n: tuple(netns.links(n)) for n in names},
        leases=tuple(lease_files(lab.state_dir)),
        processes={n: tuple(netns.pids(n)) for n in names},
    )
