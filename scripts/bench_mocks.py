#!/usr/bin/env python3
"""Benchmark: the whole program under mocks, 256 nodes vs 2 nodes (goal: ratio <= 4).

Each run is a fresh Python process, as every `pulumi preview`/`up` starts the program anew:
imports of pulumi and pulumi_kubernetes are part of what users wait for. The in-process
time of the program run is printed too, to show the per-node cost.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_RATIO = 4.0
RUNNER = """
import sys, time
from scripts.bench_mocks import config
from tests.mocks.harness import run_program
count = int(sys.argv[1])
start = time.perf_counter()
run = run_program(config(count), stack="bench")
assert len(run.resources) == 2 + 2 * count, len(run.resources)  # component, NADs, pods, checks
print(time.perf_counter() - start)
"""


def config(count: int) -> dict:
    return {"nodes": [f"node-{i}" for i in range(count)], "ipv4Subnet": "10.64.0.0/16",
            "ipv6Subnet": "fd10::/64", "rangeSize": 16}


def timed(count: int, repeats: int) -> tuple[float, float]:
    """Median wall time of a fresh process, and median in-process program time."""
    walls, programs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", RUNNER, str(count)], cwd=ROOT, check=True,
                              capture_output=True, text=True, timeout=300)
        walls.append(time.perf_counter() - start)
        programs.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(walls), statistics.median(programs)


def main() -> int:
    small_wall, small_program = timed(2, 5)
    large_wall, large_program = timed(256, 5)
    ratio = large_wall / small_wall
    print(f"mocks run, fresh process (median of 5): 2 nodes {small_wall:.2f} s, 256 nodes {large_wall:.2f} s; "
          f"ratio {ratio:.2f} (goal <= {GOAL_RATIO:.0f})")
    print(f"program run in-process (pulumi_kubernetes import included): 2 nodes {small_program * 1000:.0f} ms, "
          f"256 nodes {large_program * 1000:.0f} ms ({large_program / 256 * 1000:.2f} ms per node)")
    return 0 if ratio <= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
