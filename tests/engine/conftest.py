"""Engine tier: the real Pulumi CLI built by scripts/bootstrap-engine.

Tests marked `engine` skip when .tools/bin/pulumi is missing, or fail instead when
MACVLAN_TESTBED_REQUIRE_ENGINE=1. The lab stack also needs root and the CNI plugins
(tests.lab.conftest.require_lab, MACVLAN_TESTBED_REQUIRE_LAB=1 to fail instead of skip).
"""

from __future__ import annotations

import sys
from typing import Dict

import pytest

from tests.engine import engine

if str(engine.ROOT) not in sys.path:  # also when run without the repo's pytest.ini
    sys.path.insert(0, str(engine.ROOT))


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker (pytest.ini uses --strict-markers)."""
    config.addinivalue_line("markers", "engine: needs the Pulumi CLI built by scripts/bootstrap-engine")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("engine") is not None:
        engine.require_engine()


@pytest.fixture(scope="session")
def engine_env() -> Dict[str, str]:
    """The environment of `source scripts/engine-env`, read once per session."""
    engine.require_engine()
    return engine.engine_environment()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ANN001
    if not engine.TIMINGS:
        return
    terminalreporter.section("pulumi wall times (tests/engine)")
    for line in engine.summarize_timings(engine.TIMINGS):
        terminalreporter.write_line(line)
    total = sum(seconds for _, _, seconds in engine.TIMINGS)
    terminalreporter.write_line(f"{total:8.2f} s  total over {len(engine.TIMINGS)} calls")
