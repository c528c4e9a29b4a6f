#!/usr/bin/env python3
"""Lab benchmarks (root): each prints its numbers and a ratio from one run.

1. throughput: iperf3 Gbit/s the checks report vs a hand-run iperf3 on the same lab path,
   interleaved, median of N each (goal >= 0.97).
2. overhead: lab up + checks + down through the program vs a bare floor doing the same work
   directly: the same namespaces, CNI ADD/DEL, ping and iperf3 of the same duration (goal <= 1.3).
3. mesh: wall time of the ping phase (union of the intervals in which any ping runs) on an
   8-node mesh vs 2 nodes.

    sudo venv/bin/python scripts/bench_lab.py [--rounds 5] [--only throughput|overhead|mesh]
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.checks.executors import NetnsExecutor  # noqa: E402
from components.cni import render_nad_config  # noqa: E402
from components.checks.parse import parse_iperf3  # noqa: E402
from components.checks.suite import Tuning, run_suite  # noqa: E402
from components.lab import standalone  # noqa: E402
from components.lab.down import down  # noqa: E402
from components.lab.names import Lab  # noqa: E402
from components.lab.netns import exec_argv  # noqa: E402
from components.lab.nodes import create_node, delete_node  # noqa: E402
from components.lab.pods import create_pod, delete_pod  # noqa: E402
from components.lab.wire import create_wire, delete_wire  # noqa: E402
from components.settings import parse_settings, stack_file_config  # noqa: E402
from components.testbed import MacvlanTestbed  # noqa: E402,F401  (imports pulumi_kubernetes once, up front)

IPERF_SECONDS = 3
PING_COUNT = 3
LAB_CONFIG = stack_file_config(str(ROOT / "Pulumi.lab.yaml"))


def quiet(_: str) -> None:
    pass


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(3)


def config(checks: dict[str, Any], nodes: Any = None) -> dict[str, Any]:
    merged = dict(LAB_CONFIG, checks=dict(checks, failOnError=False))
    if nodes is not None:
        merged["nodes"] = nodes
    return merged


def hand_iperf(client_ns: str, server_ns: str, server: str) -> float:
    """One iperf3 run typed by hand: server -s -1 in the peer, client -J; sender Gbit/s."""
    srv = subprocess.Popen(exec_argv(server_ns, ["iperf3", "-s", "-1"]), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        out = subprocess.run(exec_argv(client_ns, ["iperf3", "-c", server, "-t", str(IPERF_SECONDS), "-J"]),
                             capture_output=True, text=True, timeout=IPERF_SECONDS + 30, check=True)
        return parse_iperf3(out.stdout).sent_bps / 1e9
    finally:
        srv.wait(timeout=30)


def bench_throughput(rounds: int) -> None:
    lab_id = new_id("bt")
    try:
        outputs = standalone.up(config({"pingCount": 1, "iperfSeconds": IPERF_SECONDS}), lab_id, lab_id, quiet)
        lab = Lab(lab_id)
        checked, hand = [], []
        for _ in range(rounds):
            hand.append(hand_iperf(lab.pod_netns("alpine1"), lab.pod_netns("alpine2"), "10.1.10.20"))
            outputs = standalone.recheck(lab_id, quiet)
            checked.append(next(c["iperf3"]["senderGbps"] for c in outputs["checks"]["checks"]
                                if c["client"] == "alpine1" and c["family"] == "ipv4"))
        ratio = statistics.median(checked) / statistics.median(hand)
        print(f"throughput alpine1->alpine2 ipv4, {IPERF_SECONDS} s, {rounds} interleaved runs each: "
              f"checks median {statistics.median(checked):.2f} Gbit/s {sorted(round(x, 2) for x in checked)}, "
              f"hand-run median {statistics.median(hand):.2f} Gbit/s {sorted(round(x, 2) for x in hand)}; "
              f"ratio {ratio:.3f} (goal >= 0.97)")
    finally:
        standalone.down(lab_id, quiet)


def floor_run() -> None:
    """The same work with no program around it: namespaces, CNI ADD, ping + iperf3 per check, DEL."""
    settings = parse_settings(LAB_CONFIG)
    lab = Lab(new_id("bf"))
    nodes = [n.name for n in settings.nodes]
    configs = {n.name: render_nad_config(
        node=n.name, families=settings.plan.families, master=settings.master, mode=settings.mode,
        cni_version=settings.cni_version) for n in settings.nodes}
    try:
        for node in nodes:
            create_node(lab, node)
        create_wire(lab, nodes, settings.master)
        pods = {n.pod: create_pod(lab, n.pod, n.name, n.nad, configs[n.name]) for n in settings.nodes}
        names = list(pods)
        for client, server in ((names[0], names[1]), (names[1], names[0])):
            for version in (4, 6):
                target = pods[server].ips(version)[0]
                subprocess.run(exec_argv(pods[client].netns, ["ping", f"-{version}", "-c", str(PING_COUNT), "-i",
                                                              "0.2", target]), capture_output=True, check=True,
                               timeout=30)
                hand_iperf(pods[client].netns, pods[server].netns, target)
        for n in settings.nodes:
            delete_pod(lab, n.pod, n.name, n.nad, configs[n.name])
        delete_wire(lab, nodes, settings.master)
        for node in nodes:
            delete_node(lab, node)
    finally:
        down(lab)


def program_run() -> None:
    lab_id = new_id("bp")
    try:
        standalone.up(config({"pingCount": PING_COUNT, "iperfSeconds": IPERF_SECONDS}), lab_id, lab_id, quiet)
    finally:
        standalone.down(lab_id, quiet)


def timed(fn: Callable[[], None], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def bench_overhead(rounds: int) -> None:
    program, floor = [], []
    for _ in range(rounds):  # interleaved, so machine load hits both alike
        program += timed(program_run, 1)
        floor += timed(floor_run, 1)
    ratio = statistics.median(program) / statistics.median(floor)
    print(f"lab up + checks + down (2 nodes, 4 checks, iperf3 {IPERF_SECONDS} s, ping -c {PING_COUNT}): "
          f"program median {statistics.median(program):.2f} s, bare floor median {statistics.median(floor):.2f} s "
          f"over {rounds} runs each; ratio {ratio:.2f} (goal <= 1.3)")


class PingTimer:
    """An executor that notes when each ping runs, to measure the ping phase's wall time."""

    def __init__(self) -> None:
        self.inner = NetnsExecutor()
        self.spans: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def run(self, endpoint: Any, argv: Any, timeout: float) -> Any:
        start = time.monotonic()
        result = self.inner.run(endpoint, argv, timeout)
        if argv and argv[0] == "ping":
            with self.lock:
                self.spans.append((start, time.monotonic()))
        return result

    def wall(self) -> float:
        total, end = 0.0, float("-inf")
        for first, last in sorted(self.spans):
            if last > end:
                total += last - max(first, end)
                end = last
        return total


def ping_phase(node_count: int) -> tuple[float, int]:
    lab_id = new_id("bm")
    nodes = [{"name": f"w{i}", "pod": f"pod{i}"} for i in range(node_count)]
    try:
        standalone.up(config({"enabled": False}, nodes), lab_id, lab_id, quiet)
        lab = Lab(lab_id)
        settings = parse_settings(config({}, nodes))
        endpoints = [{"pod": n.pod, "node": n.name, "namespace": "default", "netns": lab.pod_netns(n.pod),
                      "ranges": {f: [r for r in d["ranges"]] for f, d in settings.plan.to_data()[n.name].items()}}
                     for n in settings.nodes]
        timer = PingTimer()
        results = run_suite(endpoints, ["ipv4", "ipv6"], {"pingCount": PING_COUNT, "iperfSeconds": 1}, timer,
                            tuning=Tuning())
        return timer.wall(), len(results["checks"])
    finally:
        standalone.down(lab_id, quiet)


def bench_mesh() -> None:
    small, small_checks = ping_phase(2)
    large, large_checks = ping_phase(8)
    print(f"mesh ping phase (ping -c {PING_COUNT}, parallelism 4): 2 nodes {small:.2f} s for {small_checks} checks, "
          f"8 nodes {large:.2f} s for {large_checks} checks; ratio {large / small:.2f} "
          f"(checks ratio {large_checks / small_checks:.0f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("throughput", "overhead", "mesh"))
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_lab: needs root", file=sys.stderr)
        return 2
    if args.only in (None, "throughput"):
        bench_throughput(args.rounds)
    if args.only in (None, "overhead"):
        bench_overhead(args.rounds)
    if args.only in (None, "mesh"):
        bench_mesh()
    return 0


if __name__ == "__main__":
    sys.exit(main())
