"""The lab target end to end: the program, the real plugins, real ping and iperf3, and faults.

Each test realizes a stack with its own random lab id through the CLI-less runner (the
same program, lab providers and check provider that `pulumi up -s lab` uses), then breaks
something inside its own namespaces and re-runs the checks. The same-range negative
control, which the planner would refuse, is built by hand in test_lab_suite.py.
"""
from __future__ import annotations

import os
import secrets
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from components.checks.executors import NetnsExecutor
from components.checks.suite import run_suite
from components.lab import standalone
from components.lab.leaks import find_leftovers
from components.lab.names import Lab
from components.lab.netns import exec_argv
from components.lab.pods import create_pod
from components.lab.run import run
from tests.lab.helpers import nad_config
from tests.stacks import stack_config

pytestmark = [pytest.mark.lab, pytest.mark.timeout(600)]

FAST_CHECKS = {"pingCount": 2, "pingDeadlineSeconds": 5, "iperfSeconds": 1, "failOnError": False}


def quiet(_: str) -> None:
    """Progress lines are for humans; tests read the outputs."""


@dataclass
class RunningLab:
    lab_id: str
    outputs: dict[str, Any]


LabUp = Callable[..., RunningLab]


@pytest.fixture
def lab_up() -> Iterator[LabUp]:
    """Factory: realize a lab stack under a random id; down and leak-check it afterwards."""
    ids: list[str] = []

    def up(nodes: Any = None, checks: dict[str, Any] | None = None) -> RunningLab:
        stack = "t" + secrets.token_hex(4)
        ids.append(stack)  # registered before creating, so a failing up is still swept
        config = dict(stack_config("lab"), checks=dict(FAST_CHECKS, **(checks or {})))
        if nodes is not None:
            config["nodes"] = nodes
        return RunningLab(stack, standalone.up(config, stack, stack, quiet))

    yield up
    for lab_id in ids:
        assert standalone.down(lab_id, quiet) == []
        assert not find_leftovers(Lab(lab_id)), find_leftovers(Lab(lab_id)).describe()


def in_node(lab_id: str, node: str, argv: list[str], stdin: str | None = None) -> None:
    """Run a fault tool inside one of the lab's own node namespaces."""
    run(exec_argv(Lab(lab_id).node_netns(node), argv), input=stdin, timeout=15)


def checks_of(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    return outputs["checks"]["checks"]


def failures(outputs: dict[str, Any]) -> list[str]:
    return outputs["checks"]["failures"]


def test_two_nodes_pass_with_addresses_in_range_and_the_path_proof(lab_up: LabUp):
    outputs = lab_up().outputs
    assert outputs["passed"] is True, failures(outputs)
    pods = {pod["pod"]: pod for pod in outputs["checks"]["pods"]}
    assert pods["alpine1"]["addresses"]["ipv4"][0] == {"address": "10.1.10.10", "inRange": True, "unique": True}
    assert pods["alpine2"]["addresses"]["ipv6"][0] == {"address": "fd10::20", "inRange": True, "unique": True}
    pairs = {(c["client"], c["server"], c["family"]) for c in checks_of(outputs)}
    assert pairs == {("alpine1", "alpine2", "ipv4"), ("alpine1", "alpine2", "ipv6"),
                     ("alpine2", "alpine1", "ipv4"), ("alpine2", "alpine1", "ipv6")}
    for check in checks_of(outputs):
        assert check["ping"]["lossPercent"] == 0
        assert check["iperf3"]["senderGbps"] > 0
        assert check["txBytes"]["ratio"] >= 0.9
    assert len(outputs["summary"]) == 4
    assert outputs["summary"][0].startswith("alpine1 -> alpine2 ipv4: ping 0% loss rtt ")


def test_icmp_dropped_in_one_node_fails_ping_for_that_family_only(lab_up: LabUp):
    lab_id = lab_up().lab_id
    in_node(lab_id, "w1", ["nft", "-f", "-"], stdin=(
        "table netdev fault {\n"
        "  chain in { type filter hook ingress device ens16f0 priority 0; meta protocol ip ip protocol icmp drop; }\n"
        "}\n"))
    outputs = standalone.recheck(lab_id, quiet)
    assert outputs["passed"] is False
    by_family = {}
    for check in checks_of(outputs):
        by_family.setdefault(check["family"], []).append(check)
    assert all(not c["passed"] for c in by_family["ipv4"])
    assert all(c["passed"] for c in by_family["ipv6"])
    assert all(c["ping"]["lossPercent"] == 100 for c in by_family["ipv4"])
    assert any(f.startswith("ping/ipv4: alpine1 (10.1.10.10) -> alpine2 (10.1.10.20)") for f in failures(outputs)), \
        failures(outputs)
    assert not any("ipv6" in f for f in failures(outputs))


def test_rate_limit_below_the_minimum_is_a_throughput_failure(lab_up: LabUp):
    lab_id = lab_up(checks={"minGbps": 1.0}).lab_id
    in_node(lab_id, "w0", ["tc", "qdisc", "add", "dev", "ens16f0", "root", "tbf", "rate", "200mbit",
                           "burst", "256kb", "latency", "50ms"])
    outputs = standalone.recheck(lab_id, quiet)
    assert outputs["passed"] is False
    slow = [c for c in checks_of(outputs) if c["client"] == "alpine1"]
    assert slow and all(c["iperf3"]["senderGbps"] < 1.0 for c in slow)
    assert any("alpine1" in f and "Gbit/s" in f and "1" in f for f in failures(outputs)), failures(outputs)
    # The other direction only carries ACKs through the limited queue.
    assert all(c["passed"] for c in checks_of(outputs) if c["client"] == "alpine2")


def test_link_down_fails_every_check_within_a_bound(lab_up: LabUp):
    lab_id = lab_up().lab_id
    in_node(lab_id, "w0", ["ip", "link", "set", "ens16f0", "down"])
    start = time.monotonic()
    outputs = standalone.recheck(lab_id, quiet)
    elapsed = time.monotonic() - start
    assert outputs["passed"] is False
    assert all(not c["passed"] for c in checks_of(outputs))
    assert elapsed < 90, f"checks took {elapsed:.0f} s with the link down"


def test_missing_iperf3_is_one_clear_error(lab: Lab, make_nodes, tmp_path, monkeypatch):
    make_nodes(["w0", "w1"])
    endpoints = []
    for block, (pod, node) in enumerate((("alpine1", "w0"), ("alpine2", "w1")), start=1):
        attachment = create_pod(lab, pod, node, f"macvlan-{node}-ens16f0", nad_config(block))
        endpoints.append({"pod": pod, "node": node, "namespace": "default", "netns": attachment.netns,
                          "ranges": {"ipv4": [f"10.1.10.{block}0-10.1.10.{block}9"]}})
    # A pod image without iperf3: every other tool the checks use stays on PATH.
    image = tmp_path / "bin"
    image.mkdir()
    for tool in ("ip", "ping", "cat"):
        os.symlink(shutil.which(tool), image / tool)
    monkeypatch.setenv("PATH", str(image))
    results = run_suite(endpoints, ["ipv4"], dict(FAST_CHECKS), NetnsExecutor())
    assert results["passed"] is False
    iperf_failures = [f for f in results["failures"] if "iperf3" in f]
    assert iperf_failures and all("iperf3 is not installed in pod" in f for f in iperf_failures), \
        results["failures"]
    assert all(check["ping"]["lossPercent"] == 0 for check in results["checks"])


@pytest.mark.stress
def test_twenty_up_down_cycles_leave_nothing_behind():
    config = dict(stack_config("lab"), checks=dict(FAST_CHECKS, pingCount=1))
    for cycle in range(20):
        lab_id = f"c{secrets.token_hex(3)}{cycle}"
        try:
            outputs = standalone.up(config, lab_id, lab_id, quiet)
            assert outputs["passed"] is True, outputs["checks"]["failures"]
        finally:
            assert standalone.down(lab_id, quiet) == []
        leftovers = find_leftovers(Lab(lab_id))
        assert not leftovers, f"cycle {cycle}: {leftovers.describe()}"
        assert not os.path.exists(standalone.state_path(lab_id))


def test_mesh_of_four_nodes_over_a_bridge_checks_every_ordered_pair(lab_up: LabUp):
    nodes = [{"name": f"w{i}", "pod": f"pod{i}"} for i in range(4)]
    outputs = lab_up(nodes=nodes, checks={"pingCount": 1}).outputs
    assert outputs["passed"] is True, failures(outputs)
    pairs = {(c["client"], c["server"]) for c in checks_of(outputs)}
    assert pairs == {(f"pod{a}", f"pod{b}") for a in range(4) for b in range(4) if a != b}
    assert len(checks_of(outputs)) == 4 * 3 * 2


def test_up_refuses_a_lab_id_that_already_has_namespaces(lab: Lab, make_nodes):
    make_nodes(["w0", "w1"])  # someone else's lab under this id, e.g. `pulumi up -s <id>`
    with pytest.raises(standalone.StandaloneError, match=rf"lab '{lab.lab_id}' already exists on this host"):
        standalone.up(dict(stack_config("lab"), checks=FAST_CHECKS), lab.lab_id, lab.lab_id, quiet)
    # Nothing of the other lab was touched.
    assert find_leftovers(lab).netns
