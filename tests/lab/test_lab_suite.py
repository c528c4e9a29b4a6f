"""The suite through the netns executor on real macvlan + host-local pods from the lab tier."""
from __future__ import annotations

import json
from typing import Any

import pytest

from components.checks.executors import NetnsExecutor
from components.checks.suite import Tuning, run_suite
from components.lab.names import Lab
from components.lab.pods import PodAttachment
from tests.lab.conftest import NodesFactory
from tests.lab.helpers import attach, config_range, nad_config, nad_name

pytestmark = [pytest.mark.lab, pytest.mark.timeout(180)]
FAST = {"pingCount": 2, "pingDeadlineSeconds": 5, "iperfSeconds": 1}


def endpoint(pod: PodAttachment, config: dict[str, Any]) -> dict[str, Any]:
    """What MacvlanTestbed hands the check provider for one lab pod."""
    return {"pod": pod.pod, "node": pod.node, "nad": nad_name(pod.node), "namespace": "default", "netns": pod.netns,
            "ranges": {"ipv4": ["-".join(config_range(config, 4))], "ipv6": ["-".join(config_range(config, 6))]}}


def test_suite_passes_between_pods_on_two_nodes(lab: Lab, make_nodes: NodesFactory,
                                                request: pytest.FixtureRequest) -> None:
    make_nodes(["w0", "w1"])
    configs = {"w0": nad_config(1), "w1": nad_config(2)}
    pods = [attach(request, lab, f"alpine{i + 1}", node, config) for i, (node, config) in enumerate(configs.items())]
    results = run_suite([endpoint(p, configs[p.node]) for p in pods], ["ipv4", "ipv6"], FAST, NetnsExecutor())
    print(json.dumps(results["summary"], indent=1))
    assert results["passed"] is True, results["failures"]
    assert [(c["clientAddress"], c["serverAddress"]) for c in results["checks"]] == [
        ("10.1.10.10", "10.1.10.20"), ("fd10::10", "fd10::20"), ("10.1.10.20", "10.1.10.10"), ("fd10::20", "fd10::10")]
    assert all(c["txBytes"]["ratio"] >= 0.9 for c in results["checks"])


def test_same_range_on_both_nodes_is_caught(lab: Lab, make_nodes: NodesFactory,
                                            request: pytest.FixtureRequest) -> None:
    # The negative control: host-local on each node hands out the same addresses and nothing complains.
    make_nodes(["w0", "w1"])
    config = nad_config(1)
    pods = [attach(request, lab, f"alpine{i + 1}", node, config) for i, node in enumerate(["w0", "w1"])]
    quick = Tuning(iperf_retry_delay_seconds=0.2)  # every attempt is refused here: do not linger
    results = run_suite([endpoint(p, config) for p in pods], ["ipv4", "ipv6"], FAST, NetnsExecutor(), tuning=quick)
    print(json.dumps(results["failures"], indent=1))
    assert results["passed"] is False
    assert results["failures"][:2] == [
        "addresses/ipv4: 10.1.10.10 is on both alpine1 (w0) and alpine2 (w1): host-local never notices"
        " a duplicate across nodes; each node needs its own range",
        "addresses/ipv6: fd10::10 is on both alpine1 (w0) and alpine2 (w1): host-local never notices"
        " a duplicate across nodes; each node needs its own range",
    ]
    # Each pod's ping to its "peer" is answered by itself; iperf3 finds no server there.
    assert check(results, "alpine1", "ipv4")["ping"]["lossPercent"] == 0
    assert ("iperf3/ipv4: alpine1 (10.1.10.10) -> alpine2 (10.1.10.10): iperf3 error: unable to connect to server:"
            " Connection refused") in results["failures"]


def check(results: dict[str, Any], client: str, family: str) -> dict[str, Any]:
    (found,) = [c for c in results["checks"] if (c["client"], c["family"]) == (client, family)]
    return found
