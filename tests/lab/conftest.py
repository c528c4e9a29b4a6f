"""Lab-tier fixtures: skip (or, with MACVLAN_TESTBED_REQUIRE_LAB=1, fail) without root and the CNI plugins."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # also when run without the repo's pytest.ini
    sys.path.insert(0, str(ROOT))

from components.lab.down import down  # noqa: E402
from components.lab.names import Lab  # noqa: E402
from components.lab.nodes import create_node, delete_node  # noqa: E402
from components.lab.plugin import CNI_PATH  # noqa: E402
from components.lab.wire import Wire, create_wire, delete_wire  # noqa: E402

REQUIRE_ENV = "MACVLAN_TESTBED_REQUIRE_LAB"
REQUIRED_PLUGINS = ("macvlan", "host-local")
MASTER = "ens16f0"


def lab_unavailable_reason() -> Optional[str]:
    """Why this host cannot run the real lab, or None when it can."""
    if os.geteuid() != 0:
        return "lab tests need root (network namespaces, CNI plugins)"
    for plugin in REQUIRED_PLUGINS:
        path = os.path.join(CNI_PATH, plugin)
        if not os.access(path, os.X_OK):
            return f"lab tests need the CNI plugin {path} (Debian: containernetworking-plugins)"
    return None


def require_lab() -> None:
    """Skip when the lab cannot run here, or fail when MACVLAN_TESTBED_REQUIRE_LAB=1 demands it."""
    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    """Register the lab tier's markers (the repo's pytest.ini uses --strict-markers)."""
    config.addinivalue_line("markers", "lab: needs root, network namespaces and the real CNI plugins")
    config.addinivalue_line("markers", "stress: repeated lab cycles; kept fast so CI runs them")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every test marked `lab` gets the root/plugin requirement without asking for a fixture."""
    if item.get_closest_marker("lab") is not None:
        require_lab()


@pytest.fixture
def lab_host() -> None:
    """Explicit form of the `lab` marker's requirement."""
    require_lab()


def random_lab_id() -> str:
    """Short random id so concurrent runs never share a netns name."""
    return "t" + secrets.token_hex(4)


@pytest.fixture
def lab(lab_host: None, tmp_path: Path, request: pytest.FixtureRequest) -> Lab:
    """A fresh lab with its own state dir; whatever a test leaves is removed afterwards."""
    made = Lab(random_lab_id(), str(tmp_path / "state"))
    request.addfinalizer(lambda: down(made))
    return made


NodesFactory = Callable[..., Wire]


@pytest.fixture
def make_nodes(lab: Lab, request: pytest.FixtureRequest) -> NodesFactory:
    """Factory: node namespaces plus the wire, each torn down by a finalizer registered on creation."""

    def make(nodes: Sequence[str], master: str = MASTER, mtu: Optional[int] = None) -> Wire:
        for node in nodes:
            request.addfinalizer(lambda node=node: delete_node(lab, node))
            create_node(lab, node)
        request.addfinalizer(lambda: delete_wire(lab, list(nodes), master))
        return create_wire(lab, list(nodes), master, mtu)

    return make
