#!/usr/bin/env python3
"""Benchmark: plan 4,096 nodes dual-stack (goal: under 50 ms). Prints its numbers."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netaddr import IPNetwork  # noqa: E402

from components.plan import NodeSpec, SubnetSpec, plan_ranges  # noqa: E402

GOAL_MS = 50.0


def main() -> int:
    nodes = [NodeSpec(f"node-{i}", key=f"nodes[{i}]") for i in range(4096)]
    subnets = [SubnetSpec("ipv4", IPNetwork("10.64.0.0/14"), key="ipv4Subnet"),
               SubnetSpec("ipv6", IPNetwork("fd10::/64"), key="ipv6Subnet")]
    timings = []
    for _ in range(15):
        start = time.perf_counter()
        plan_ranges(nodes, subnets, range_size=32)
        timings.append((time.perf_counter() - start) * 1000)
    median = statistics.median(timings)
    print(f"planner 4096 nodes dual-stack: median {median:.1f} ms, min {min(timings):.1f} ms, "
          f"max {max(timings):.1f} ms over {len(timings)} runs; goal < {GOAL_MS:.0f} ms; "
          f"ratio to goal {median / GOAL_MS:.2f}")
    return 0 if median < GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main())
