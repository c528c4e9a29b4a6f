"""The lab's dynamic providers called directly: check, diff, create, read, delete, pickling."""

from __future__ import annotations

import base64
import copy
from typing import Any, Dict

import dill
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.rpc import UNKNOWN

from components.lab.leaks import find_leftovers
from components.lab.names import Lab
from components.lab.provider import LabNodeProvider, LabPodProvider, LabWireProvider
from tests.lab.helpers import nad_config, nad_name

POD_INPUTS: Dict[str, Any] = {
    "lab_id": "dev1", "pod": "alpine1", "node": "w0", "nad_name": "macvlan-w0-ens16f0", "config": nad_config(1),
}


def _failures(provider: Any, news: Dict[str, Any]) -> Dict[str, str]:
    return {f.property: f.reason for f in provider.check({}, news).failures}


@pytest.mark.parametrize(
    ("provider", "news", "prop", "reason"),
    [
        (LabNodeProvider(), {"lab_id": "Dev", "node": "w0"}, "lab_id", "lab_id 'Dev' is invalid"),
        (LabNodeProvider(), {"lab_id": "dev1", "node": "sw"}, "node", "reserved for the lab switch"),
        (LabNodeProvider(), {"lab_id": "dev1"}, "node", "node is required"),
        (LabWireProvider(), {"lab_id": "dev1", "nodes": ["w0", "w0"], "master": "ens16f0"}, "nodes", "contain duplicates"),
        (LabWireProvider(), {"lab_id": "dev1", "nodes": ["w0"], "master": "x" * 16}, "master", "master 'xxxxxxxxxxxxxxxx' is invalid"),
        (LabWireProvider(), {"lab_id": "dev1", "nodes": ["w0"], "master": "ens16f0", "mtu": 10}, "mtu", "mtu 10 must be an integer in [68, 65535]"),
        (LabPodProvider(), {**POD_INPUTS, "config": {**nad_config(1), "cniVersion": "x"}}, "config", "cniVersion 'x'"),
        (LabPodProvider(), {**POD_INPUTS, "config": "{"}, "config", "not valid JSON"),
        (LabPodProvider(), {**POD_INPUTS, "ifname": "net1:0"}, "ifname", "ifname 'net1:0' is invalid"),
    ],
)
def test_check_names_the_bad_input(provider: Any, news: Dict[str, Any], prop: str, reason: str) -> None:
    failures = _failures(provider, news)
    assert prop in failures and reason in failures[prop], failures


def test_check_accepts_good_inputs_fills_defaults_and_restores_integers() -> None:
    config = {**nad_config(1), "mtu": 1400.0}
    result = LabPodProvider().check({}, {**POD_INPUTS, "config": config, "__provider": "p"})
    assert result.failures == []
    assert result.inputs["ifname"] == "net1" and result.inputs["state_dir"] == ""
    assert result.inputs["config"]["mtu"] == 1400 and isinstance(result.inputs["config"]["mtu"], int)
    assert result.inputs["__provider"] == "p"


def test_check_defers_unknown_values() -> None:
    assert _failures(LabPodProvider(), {**POD_INPUTS, "node": UNKNOWN}) == {}


def test_diff_ignores_outputs_and_replaces_on_any_input_change() -> None:
    provider = LabPodProvider()
    olds = {**POD_INPUTS, "ifname": "net1", "state_dir": "", "netns": "mvtb-dev1-alpine1", "ipv4": ["10.1.10.10"], "__provider": "a"}
    same = provider.diff("id", olds, {**POD_INPUTS, "__provider": "b"})
    assert same.changes is False and same.replaces == []
    changed_config = copy.deepcopy(POD_INPUTS["config"])
    changed_config["ipam"]["ranges"][0][0]["rangeEnd"] = "10.1.10.18"
    changed = provider.diff("id", olds, {**POD_INPUTS, "config": changed_config})
    assert changed.changes is True and changed.replaces == ["config"] and changed.delete_before_replace is True
    unknown = provider.diff("id", olds, {**POD_INPUTS, "node": UNKNOWN})
    assert unknown.replaces == ["node"]


def test_diff_treats_grpc_floats_as_the_same_integers() -> None:
    olds = {"lab_id": "dev1", "nodes": ["w0", "w1"], "master": "ens16f0", "mtu": 1500}
    assert LabWireProvider().diff("id", olds, {**olds, "mtu": 1500.0}).changes is False


@pytest.mark.parametrize("provider", [LabNodeProvider(), LabWireProvider(), LabPodProvider()])
def test_providers_survive_the_sdks_dill_serialization(provider: Any) -> None:
    loaded = dill.loads(base64.b64decode(serialize_provider(provider)))
    assert type(loaded).__name__ == type(provider).__name__
    assert loaded.check({}, {"lab_id": "Bad"}).failures


@pytest.mark.lab
@pytest.mark.timeout(60)
def test_node_wire_pod_lifecycle_through_the_providers(lab: Lab) -> None:
    node_p, wire_p, pod_p = LabNodeProvider(), LabWireProvider(), LabPodProvider()
    base = {"lab_id": lab.lab_id, "state_dir": lab.state_dir}
    nodes = {n: node_p.create({**base, "node": n}) for n in ("w0", "w1")}
    assert nodes["w0"].id == lab.node_netns("w0") and nodes["w0"].outs["data_dir"] == lab.node_data_dir("w0")
    wire = wire_p.create({"lab_id": lab.lab_id, "nodes": ["w0", "w1"], "master": "ens16f0", "mtu": 1500.0})
    assert wire.outs["kind"] == "veth" and wire.outs["mtu"] == 1500
    pods = {}
    for i, n in enumerate(("w0", "w1")):
        # numbers arrive as floats after the gRPC round trip; the plugin needs JSON integers
        config = {**nad_config(i + 1, "1.0.0"), "mtu": 1500.0}
        pods[n] = pod_p.create({**base, "pod": f"alpine{i + 1}", "node": n, "nad_name": nad_name(n), "config": config})
    out = pods["w1"].outs
    assert out["netns"] == lab.pod_netns("alpine2") and out["node_netns"] == lab.node_netns("w1")
    assert out["ipv4"] == ["10.1.10.20"] and out["ipv6"] == ["fd10::20"] and out["mac"]
    assert pod_p.read(pods["w1"].id, out).id == pods["w1"].id
    for n, created in pods.items():
        pod_p.delete(created.id, created.outs)
        pod_p.delete(created.id, created.outs)
        assert pod_p.read(created.id, created.outs).id == ""
    assert find_leftovers(lab).leases == ()
    wire_p.delete(wire.id, wire.outs)
    assert wire_p.read(wire.id, wire.outs).id == ""
    for created in nodes.values():
        node_p.delete(created.id, created.outs)
        assert node_p.read(created.id, created.outs).id == ""
    assert not find_leftovers(lab), find_leftovers(lab).describe()
