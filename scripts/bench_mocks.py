#!/usr/bin/env python3
"""Benchmark: the whole program under mocks, 256 nodes vs 2 nodes (goal: ratio <= 4)."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mocks.harness import run_program  # noqa: E402

GOAL_RATIO = 4.0


def config(count: int) -> dict:
    return {"nodes": [f"node-{i}" for i in range(count)], "ipv4Subnet": "10.64.0.0/16",
            "ipv6Subnet": "fd10::/64", "rangeSize": 16}


def timed(count: int, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run = run_program(config(count), stack="bench")
        samples.append(time.perf_counter() - start)
        assert len(run.resources) == 1 + 2 * count
    return statistics.median(samples)


def main() -> int:
    timed(2, 2)  # warm imports
    small = timed(2, 7)
    large = timed(256, 5)
    ratio = large / small
    print(f"mocks run: 2 nodes {small * 1000:.1f} ms, 256 nodes {large * 1000:.1f} ms "
          f"(median); ratio {ratio:.2f}; goal <= {GOAL_RATIO:.0f}")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
