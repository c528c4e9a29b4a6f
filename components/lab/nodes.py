"""Lab nodes: a namespace per Kubernetes node plus its private host-local lease store."""

from __future__ import annotations

import os
import shutil

from components.lab import netns
from components.lab.names import Lab


def create_node(lab: Lab, node: str) -> str:
    """Create the node netns (lo up); returns its name and is a no-op when it already exists."""
    name = lab.node_netns(node)
    netns.add(name, lab.lab_id)
    return name


def delete_node(lab: Lab, node: str) -> None:
    """Delete the node netns and its lease store (a node's disk goes with it); idempotent."""
    netns.delete(lab.node_netns(node))
    shutil.rmtree(lab.node_dir(node), ignore_errors=True)
    try:
        os.rmdir(lab.state_dir)  # only when this was the last node
    except OSError:
        pass
