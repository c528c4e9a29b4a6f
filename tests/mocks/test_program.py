"""The whole program under Pulumi mocks: resources, names, pinning, dependencies, exports."""
from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.runtime import rpc

from components.testbed import TYPE_TOKEN
from tests.mocks.harness import run_program
from tests.stacks import stack_config
from tests.unit.test_cni import SEED_W0_CONFIG

NAD_TYPE = "kubernetes:k8s.cni.cncf.io/v1:NetworkAttachmentDefinition"
POD_TYPE = "kubernetes:core/v1:Pod"
CHECK_TYPE = "pulumi-python:dynamic/checks:ConnectivityCheck"


@pytest.fixture(scope="module")
def dev():
    return run_program(stack_config("dev"), stack="dev")


def test_dev_registers_one_component_two_nads_two_pods_and_the_checks(dev):
    assert [r.type for r in dev.resources] == [TYPE_TOKEN, NAD_TYPE, NAD_TYPE, POD_TYPE, POD_TYPE, CHECK_TYPE]


def test_dev_checks_run_after_both_pods_with_the_planned_ranges(dev):
    (check,) = dev.of_type(CHECK_TYPE)
    assert set(check.dependencies) == {dev.named("testbed-pod-w0").urn, dev.named("testbed-pod-w1").urn}
    assert check.inputs["endpoints"] == [
        {"pod": "alpine1", "node": "w0", "nad": "macvlan-w0-ens16f0", "namespace": "default",
         "ranges": {"ipv4": ["10.1.10.10-10.1.10.19"], "ipv6": ["fd10::10-fd10::19"]}},
        {"pod": "alpine2", "node": "w1", "nad": "macvlan-w1-ens16f0", "namespace": "default",
         "ranges": {"ipv4": ["10.1.10.20-10.1.10.29"], "ipv6": ["fd10::20-fd10::29"]}},
    ]
    assert check.inputs["families"] == ["ipv4", "ipv6"]
    assert check.inputs["executor"]["kind"] == "kubernetes"
    assert check.inputs["executor"]["container"] == "testbed"
    assert check.inputs["failOnError"] is True
    assert check.inputs["trigger"] == ""
    assert check.inputs["settings"]["pingCount"] == 3
    assert check.inputs["settings"]["pathProofRatio"] == 0.9
    assert set(dev.outputs) == {"plan", "nads", "pods", "checks", "passed", "summary"}


def test_dev_nads_carry_the_seeds_names_and_config(dev):
    nads = {r.inputs["metadata"]["name"]: r for r in dev.of_type(NAD_TYPE)}
    assert sorted(nads) == ["macvlan-w0-ens16f0", "macvlan-w1-ens16f0"]
    w0 = nads["macvlan-w0-ens16f0"].inputs
    assert w0["apiVersion"] == "k8s.cni.cncf.io/v1"  # api_version reads None under mocks: assert the input
    assert w0["kind"] == "NetworkAttachmentDefinition"
    assert w0["metadata"]["namespace"] == "default"
    assert json.loads(w0["spec"]["config"]) == json.loads(SEED_W0_CONFIG)


def test_dev_pods_are_pinned_attached_and_unprivileged(dev):
    pods = {r.inputs["metadata"]["name"]: r.inputs for r in dev.of_type(POD_TYPE)}
    assert sorted(pods) == ["alpine1", "alpine2"]
    for pod, node in (("alpine1", "w0"), ("alpine2", "w1")):
        spec = pods[pod]["spec"]
        assert spec["nodeName"] == node
        annotation = pods[pod]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"]
        assert json.loads(annotation) == [
            {"name": f"macvlan-{node}-ens16f0", "namespace": "default", "interface": "net1"}]
        (container,) = spec["containers"]
        assert container["name"] == "testbed"
        assert container["image"] == "nicolaka/netshoot:v0.13"
        security = container["securityContext"]
        assert security["privileged"] is False
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_RAW"]}


def test_every_child_is_parented_by_the_component_and_pods_depend_on_their_nad(dev):
    component = dev.named("testbed")
    for child in dev.resources[1:]:
        assert child.parent == component.urn
    for node in ("w0", "w1"):
        assert dev.named(f"testbed-pod-{node}").dependencies == (dev.named(f"testbed-nad-{node}").urn,)


def test_dev_exports_plan_nads_and_pods(dev):
    assert dev.outputs["plan"]["w1"]["ipv6"] == {"subnet": "fd10::/64", "ranges": ["fd10::20-fd10::29"],
                                                 "capacity": 10}
    assert dev.outputs["pods"] == [
        {"name": "alpine1", "node": "w0", "nad": "macvlan-w0-ens16f0", "namespace": "default"},
        {"name": "alpine2", "node": "w1", "nad": "macvlan-w1-ens16f0", "namespace": "default"},
    ]
    assert dev.outputs["nads"][0]["config"] == json.loads(SEED_W0_CONFIG)


def test_64_node_automatic_plan():
    nodes = [f"worker-{i}" for i in range(64)]
    run = run_program({"nodes": nodes, "ipv4Subnet": "10.20.0.0/21", "ipv6Subnet": "fd10::/64",
                       "rangeSize": 16}, stack="big")
    assert len(run.of_type(NAD_TYPE)) == 64
    assert len(run.of_type(POD_TYPE)) == 64
    (check,) = run.of_type(CHECK_TYPE)
    assert len(check.inputs["endpoints"]) == 64
    starts = []
    for index in range(64):
        nad = run.named(f"testbed-nad-worker-{index}")
        config = json.loads(nad.inputs["spec"]["config"])
        assert nad.inputs["metadata"]["name"] == f"macvlan-worker-{index}-ens16f0"
        v4, v6 = config["ipam"]["ranges"]
        starts.append(v4[0]["rangeStart"])
        assert v4[0]["subnet"] == "10.20.0.0/21"
        assert v6[0]["subnet"] == "fd10::/64"
    assert starts[0] == "10.20.0.16"
    assert starts[63] == "10.20.4.0"
    assert len(set(starts)) == 64
    for index in range(64):
        pod = run.named(f"testbed-pod-worker-{index}")
        assert pod.inputs["spec"]["nodeName"] == f"worker-{index}"
        assert pod.dependencies == (run.named(f"testbed-nad-worker-{index}").urn,)
    assert run.outputs["plan"]["worker-63"]["ipv4"]["ranges"] == ["10.20.4.0-10.20.4.15"]


def test_explicit_provider_from_kubeconfig_and_context_is_used_by_every_child():
    config = dict(stack_config("dev"), kubeconfig="apiVersion: v1\nkind: Config\n", context="lab-admin")
    run = run_program(config, stack="dev")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "lab-admin"
    assert provider.parent == run.named("testbed").urn
    for child in run.of_type(NAD_TYPE) + run.of_type(POD_TYPE):
        assert child.provider.startswith(provider.urn)


def test_render_yaml_to_directory_configures_the_provider_and_skips_the_checks(tmp_path):
    config = dict(stack_config("dev"), renderYamlToDirectory=str(tmp_path))
    run = run_program(config, stack="dev")
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["renderYamlToDirectory"] == str(tmp_path)
    assert not run.of_type(CHECK_TYPE)
    assert set(run.outputs) == {"plan", "nads", "pods"}


def test_disabled_checks_register_no_check_resource():
    run = run_program(dict(stack_config("dev"), checks={"enabled": False}), stack="dev")
    assert not run.of_type(CHECK_TYPE)


def test_check_settings_and_trigger_reach_the_check_resource():
    checks = {"pingCount": 5, "iperfSeconds": 2, "iperfProtocol": "udp", "minGbps": 1.5,
              "failOnError": False, "trigger": "run-2"}
    run = run_program(dict(stack_config("dev"), checks=checks, kubeconfig="kind: Config\n",
                           context="ctx"), stack="dev")
    (check,) = run.of_type(CHECK_TYPE)
    assert check.inputs["trigger"] == "run-2"
    assert check.inputs["failOnError"] is False
    assert check.inputs["settings"]["pingCount"] == 5
    assert check.inputs["settings"]["iperfProtocol"] == "udp"
    assert check.inputs["settings"]["minGbps"] == 1.5
    # The kubeconfig is a secret, so the whole executor input travels as a secret.
    executor = check.inputs["executor"]
    assert executor[rpc._special_sig_key] == rpc._special_secret_sig
    assert executor["value"] == {"kind": "kubernetes", "kubeconfig": "kind: Config\n", "context": "ctx",
                                 "container": "testbed"}


def test_invalid_config_registers_nothing_and_raises_one_run_error():
    with pytest.raises(pulumi.RunError) as caught:
        run_program({"nodes": ["w0", "w0"], "ipv4Subnet": "10.1.10.1/24", "mode": "nope"}, stack="bad")
    message = str(caught.value)
    assert "3 configuration problems" in message
    assert "nodes[1].name: got 'w0'" in message
    assert "mode: got 'nope'; must be one of bridge, private, vepa, passthru" in message
    assert "ipv4Subnet: got '10.1.10.1/24'" in message


def test_lab_stack_builds_nodes_a_wire_and_pods_with_the_rendered_config():
    run = run_program(stack_config("lab"), stack="lab")
    types = [r.type for r in run.resources]
    assert types.count("pulumi-python:dynamic/lab:LabNode") == 2
    assert types.count("pulumi-python:dynamic/lab:LabWire") == 1
    assert types.count("pulumi-python:dynamic/lab:LabPod") == 2
    (check,) = run.of_type(CHECK_TYPE)
    assert check.inputs["executor"] == {"kind": "netns"}
    assert set(check.dependencies) == {run.named("testbed-pod-w0").urn, run.named("testbed-pod-w1").urn}
    assert not run.of_type(NAD_TYPE) and not run.of_type(POD_TYPE)
    wire = run.named("testbed-wire")
    assert wire.inputs["nodes"] == ["w0", "w1"]
    assert wire.inputs["master"] == "ens16f0"
    assert set(wire.dependencies) == {run.named("testbed-node-w0").urn, run.named("testbed-node-w1").urn}
    pod = run.named("testbed-pod-w0")
    assert pod.inputs["pod"] == "alpine1"
    assert pod.inputs["lab_id"] == "lab"
    assert pod.inputs["nad_name"] == "macvlan-w0-ens16f0"
    assert pod.inputs["config"] == run.outputs["nads"][0]["config"]
    assert set(pod.dependencies) == {wire.urn, run.named("testbed-node-w0").urn}
    for child in run.resources[1:]:
        assert child.parent == run.named("testbed").urn
