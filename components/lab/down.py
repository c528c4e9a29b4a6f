"""Removes everything a lab_id left on the host, even after a crash, and says what it found."""

from __future__ import annotations

import shutil

from components.lab import netns
from components.lab.errors import LabError
from components.lab.leaks import Leftovers, find_leftovers
from components.lab.names import Lab


def down(lab: Lab) -> Leftovers:
    """Delete the lab's namespaces (ending their processes) and state dir; returns what was there."""
    found = find_leftovers(lab)
    for name in found.netns:
        netns.delete(name)
    shutil.rmtree(lab.state_dir, ignore_errors=True)
    remaining = find_leftovers(lab)
    if remaining:
        raise LabError([], None, "", reason=f"lab {lab.lab_id!r} still holds {remaining.describe()}")
    return found
