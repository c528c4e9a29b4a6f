"""ConnectivityCheckProvider driven over gRPC through the SDK's own provider server, as the engine drives it.

Properties travel as google.protobuf Structs (every number a float), `__provider` holds the
provider really serialized by the SDK (pulumi/dynamic/dynamic.py), without the secret wrapper
the engine strips before calling a provider that does not accept secrets. Create/Update run
the suite with the netns executor against two namespaces the test builds itself.
"""
from __future__ import annotations

import re
import subprocess
import time
from typing import Any, Mapping

import grpc
import pytest
from google.protobuf import json_format, struct_pb2

from components.checks.provider import ConnectivityCheckProvider
from tests.provider.conftest import PodPair, ProviderServer

TYPE = "pulumi-python:dynamic/checks:ConnectivityCheck"
URN = f"urn:pulumi:dev::macvlan-testbed::{TYPE}::checks"
FAST = {"pingCount": 2, "pingDeadlineSeconds": 5, "iperfSeconds": 1, "parallelism": 2}

pytestmark = pytest.mark.timeout(180)


def serialized_provider(**attributes: Any) -> str:
    """What ConnectivityCheck puts into `__provider`: the SDK's dill serialization of the provider."""
    from pulumi.dynamic.dynamic import serialize_provider
    from pulumi.runtime._serialization import _serialize

    provider = ConnectivityCheckProvider()
    for key, value in attributes.items():
        setattr(provider, key, value)
    text, contains_secrets = _serialize(True, serialize_provider, provider)
    assert not contains_secrets
    return text


PROVIDER = serialized_provider()


def struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(props))
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


def proto() -> Any:
    from pulumi.runtime.proto import provider_pb2

    return provider_pb2


def inputs(endpoints: Any, **changes: Any) -> dict[str, Any]:
    """What the program registers: the inputs, the declared outputs (None) and __provider."""
    props = {"endpoints": endpoints, "families": ["ipv4", "ipv6"], "settings": dict(FAST),
             "executor": {"kind": "netns"}, "trigger": "1", "failOnError": True,
             "results": None, "passed": None, "summary": None, "__provider": PROVIDER}
    props.update(changes)
    return props


def configure(stub: Any) -> None:
    response = stub.Configure(proto().ConfigureRequest(args=struct({}), acceptSecrets=True, acceptResources=True))
    assert response.acceptSecrets is False  # so the engine hands over plain values and re-marks secrets


def check(stub: Any, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None) -> Any:
    return stub.Check(proto().CheckRequest(urn=URN, name="checks", type=TYPE,
                                           olds=struct(olds or {}), news=struct(news)))


def diff(stub: Any, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Any:
    return stub.Diff(proto().DiffRequest(id="connectivity-1", urn=URN, name="checks", type=TYPE,
                                         olds=struct(olds), news=struct(news)))


def wait_for_lines(server: ProviderServer, start: int, last: str) -> list[str]:
    """Provider stderr lines from index start on, once `last` arrived (stderr is drained by a thread)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line.rstrip("\n") for line in server.stderr_lines[start:]]
        if any(line.startswith(last) for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"no {last!r} in provider stderr: {server.stderr_lines[start:]!r}")


def endpoints_without_pods() -> list[dict[str, Any]]:
    return PodPair("mvtb-none-a", "mvtb-none-b").endpoints()


# --- check --------------------------------------------------------------------------------------


def test_check_reports_every_bad_input(stub: Any) -> None:
    configure(stub)
    bad_endpoint = {**endpoints_without_pods()[0], "ranges": {"ipv4": ["10.1.10.10-10.1.10.19"]}}
    del bad_endpoint["netns"]
    news = inputs([bad_endpoint], families=["ipv4", "ipv6", "ipx"], settings={"pingCount": 0.0},
                  executor={"kind": "ssh"}, trigger=3.0, failOnError="yes")
    failures = [(f.property, f.reason) for f in check(stub, news).failures]
    assert failures == [
        ("families", "families: got ['ipv4', 'ipv6', 'ipx']; must be a non-empty list of ipv4, ipv6 without repeats"),
        ("endpoints", "endpoints[0].ranges.ipv6: got None; must be a non-empty list of ranges"),
        ("settings", "settings.pingCount: got 0; must be an integer from 1 to 1000"),
        ("executor", "executor.kind: got 'ssh'; must be one of kubernetes, netns"),
        ("trigger", "trigger: got 3; must be a string"),
        ("failOnError", "failOnError: got 'yes'; must be true or false"),
    ]


def test_check_names_endpoint_problems_and_the_netns_requirement(stub: Any) -> None:
    configure(stub)
    one, two = endpoints_without_pods()
    del two["netns"]
    two["ranges"] = {"ipv4": ["10.1.10.20-10.1.10.29"], "ipv6": ["10.1.10.1-10.1.10.2"]}
    failures = [(f.property, f.reason) for f in check(stub, inputs([one, two])).failures]
    assert failures == [
        ("endpoints", "endpoints[1].ranges.ipv6: range '10.1.10.1-10.1.10.2' is not an ipv6 range"),
        ("endpoints", "endpoints[1].netns: got None; the netns executor needs the pod's network namespace name"),
    ]


def test_check_fills_defaults_and_normalises_numbers(stub: Any) -> None:
    configure(stub)
    response = check(stub, inputs(endpoints_without_pods(), settings={"pingCount": 5.0}, trigger=None,
                                  failOnError=None))
    assert list(response.failures) == []
    checked = plain(response.inputs)
    assert checked["settings"] == {
        "pingCount": 5.0, "pingDeadlineSeconds": 10.0, "iperfSeconds": 3.0, "iperfStreams": 1.0,
        "iperfProtocol": "tcp", "iperfUdpBitrate": "1G", "maxLossPercent": 0.0, "minGbps": 0.0,
        "pathProofRatio": 0.9, "parallelism": 4.0}
    assert (checked["trigger"], checked["failOnError"]) == ("", True)
    assert checked["__provider"] == PROVIDER
    assert not {"results", "passed", "summary"} & set(checked)


def test_check_skips_unknown_preview_values(stub: Any) -> None:
    from pulumi.runtime import rpc

    configure(stub)
    news = inputs(endpoints_without_pods(), executor={"kind": "kubernetes", "kubeconfig": rpc.UNKNOWN},
                  trigger=rpc.UNKNOWN)
    response = check(stub, news)
    assert list(response.failures) == []
    assert plain(response.inputs)["trigger"] == rpc.UNKNOWN


# --- diff ------------------------------------------------------------------------------------------


def stored_state(endpoints: Any, **changes: Any) -> dict[str, Any]:
    """Outputs as the state holds them after a create: checked inputs plus results."""
    state = inputs(endpoints, **changes)
    state["settings"] = {"pingCount": 2, "pingDeadlineSeconds": 5, "iperfSeconds": 1, "iperfStreams": 1,
                         "iperfProtocol": "tcp", "iperfUdpBitrate": "1G", "maxLossPercent": 0.0, "minGbps": 0.0,
                         "pathProofRatio": 0.9, "parallelism": 2}
    state.update(results={"passed": True, "checks": []}, passed=True, summary=["alpine1 -> alpine2 ipv4: ..."])
    return state


def test_diff_without_changes_is_no_change(stub: Any) -> None:
    olds = stored_state(endpoints_without_pods())
    news = plain(check(stub, inputs(endpoints_without_pods())).inputs)
    assert diff(stub, olds, news).changes == proto().DiffResponse.DIFF_NONE


def test_diff_ignores_a_new_serialized_provider(stub: Any) -> None:
    # A code-only change of the provider changes `__provider`; it must not re-run or lose the results.
    changed = serialized_provider(revision="next")
    assert changed != PROVIDER
    olds = stored_state(endpoints_without_pods())
    news = {**plain(check(stub, inputs(endpoints_without_pods())).inputs), "__provider": changed}
    assert diff(stub, olds, news).changes == proto().DiffResponse.DIFF_NONE


@pytest.mark.parametrize("key, value", [
    ("trigger", "2"),
    ("families", ["ipv4"]),
    ("settings", {**FAST, "iperfSeconds": 2}),
    ("executor", {"kind": "kubernetes", "context": "lab"}),
    ("failOnError", False),
])
def test_diff_on_an_input_change_is_an_update_never_a_replace(stub: Any, key: str, value: Any) -> None:
    olds = stored_state(endpoints_without_pods())
    news = plain(check(stub, inputs(endpoints_without_pods(), **{key: value})).inputs)
    response = diff(stub, olds, news)
    assert response.changes == proto().DiffResponse.DIFF_SOME
    assert list(response.replaces) == []
    assert response.deleteBeforeReplace is False


def test_diff_with_an_unknown_input_is_an_update(stub: Any) -> None:
    from pulumi.runtime import rpc

    olds = stored_state(endpoints_without_pods())
    news = {**plain(check(stub, inputs(endpoints_without_pods())).inputs), "trigger": rpc.UNKNOWN}
    response = diff(stub, olds, news)
    assert response.changes == proto().DiffResponse.DIFF_SOME and list(response.replaces) == []


def test_diff_after_a_read_is_no_change(stub: Any) -> None:
    # Read (refresh) drops null-valued keys such as an ambient kubeconfig: that is not a change.
    executor = {"kind": "kubernetes", "kubeconfig": None, "context": None, "container": "testbed"}
    state = stored_state(endpoints_without_pods(), executor=executor)
    read = stub.Read(proto().ReadRequest(id="connectivity-1", urn=URN, name="checks", type=TYPE,
                                         properties=struct(state), inputs=struct({})))
    assert plain(read.properties)["executor"] == {"kind": "kubernetes", "container": "testbed"}
    news = plain(check(stub, inputs(endpoints_without_pods(), executor=executor)).inputs)
    assert diff(stub, plain(read.properties), news).changes == proto().DiffResponse.DIFF_NONE


def test_read_returns_the_stored_state_and_delete_does_nothing(stub: Any) -> None:
    state = stored_state(endpoints_without_pods())
    response = stub.Read(proto().ReadRequest(id="connectivity-1", urn=URN, name="checks", type=TYPE,
                                             properties=struct(state), inputs=struct({})))
    assert response.id == "connectivity-1"
    assert plain(response.properties) == plain(struct(state))
    stub.Delete(proto().DeleteRequest(id="connectivity-1", urn=URN, name="checks", type=TYPE,
                                      properties=struct(state)))


# --- create / update against real namespaces ------------------------------------------------------


@pytest.mark.lab
def test_create_update_read_delete_on_a_netns_pod_pair(stub: Any, pod_pair: PodPair,
                                                       provider_server: ProviderServer) -> None:
    configure(stub)
    seen = len(provider_server.stderr_lines)
    checked = check(stub, inputs(pod_pair.endpoints()))
    assert list(checked.failures) == []
    created = stub.Create(proto().CreateRequest(urn=URN, name="checks", type=TYPE, properties=checked.inputs,
                                                timeout=120))
    assert created.id.startswith("connectivity-")
    outs = plain(created.properties)
    assert outs["passed"] is True, outs["summary"]
    assert outs["__provider"] == PROVIDER
    assert outs["results"]["failures"] == []
    assert [(c["client"], c["server"], c["family"]) for c in outs["results"]["checks"]] == [
        ("alpine1", "alpine2", "ipv4"), ("alpine1", "alpine2", "ipv6"),
        ("alpine2", "alpine1", "ipv4"), ("alpine2", "alpine1", "ipv6")]
    first = outs["results"]["checks"][1]
    assert (first["clientAddress"], first["serverAddress"]) == ("fd10::11", "fd10::21")
    assert first["ping"]["lossPercent"] == 0 and first["ping"]["received"] == 2
    assert first["iperf3"]["protocol"] == "TCP" and first["iperf3"]["receiverGbps"] > 0
    assert first["txBytes"]["ratio"] >= 0.9
    assert re.fullmatch(r"alpine1 -> alpine2 ipv6: ping 0% loss rtt [\d.]+/[\d.]+/[\d.]+ ms;"
                        r" iperf3 [\d.]+ Gbit/s, \d+ retr; net1 \+[\d.]+ [KMG]iB", outs["summary"][1])
    assert outs["results"]["pods"][0]["addresses"] == {
        "ipv4": [{"address": "10.1.10.11", "inRange": True, "unique": True}],
        "ipv6": [{"address": "fd10::11", "inRange": True, "unique": True}]}

    # One progress line per pair, on the stderr the engine shows (in completion order).
    lines = wait_for_lines(provider_server, seen, "connectivity-check: passed")
    progress = [line for line in lines if line.startswith("connectivity-check: [")]
    assert [line.split("] ")[0] for line in progress] == ["connectivity-check: [1/2", "connectivity-check: [2/2"]
    assert sorted(line.split("] ")[1] for line in progress) == [
        "alpine1 -> alpine2: ipv4 ok, ipv6 ok", "alpine2 -> alpine1: ipv4 ok, ipv6 ok"]
    assert lines[0] == "connectivity-check: checking 2 pods, 2 pairs, ipv4/ipv6"

    news = plain(check(stub, inputs(pod_pair.endpoints(), trigger="2"), olds=outs).inputs)
    changes = diff(stub, outs, news)
    assert changes.changes == proto().DiffResponse.DIFF_SOME and list(changes.replaces) == []
    updated = stub.Update(proto().UpdateRequest(id=created.id, urn=URN, name="checks", type=TYPE,
                                                olds=struct(outs), news=struct(news), timeout=120))
    new_outs = plain(updated.properties)
    assert new_outs["passed"] is True and new_outs["trigger"] == "2"
    # A new measurement: alpine1's net1 counter starts where the first run left it.
    old_tx = outs["results"]["checks"][1]["txBytes"]["after"]
    assert new_outs["results"]["checks"][0]["txBytes"]["before"] >= old_tx

    read = stub.Read(proto().ReadRequest(id=created.id, urn=URN, name="checks", type=TYPE,
                                         properties=updated.properties, inputs=struct(news)))
    assert read.id == created.id and plain(read.properties) == new_outs
    assert diff(stub, plain(read.properties), news).changes == proto().DiffResponse.DIFF_NONE
    stub.Delete(proto().DeleteRequest(id=created.id, urn=URN, name="checks", type=TYPE,
                                      properties=updated.properties))


def drop_ipv4_echo_requests(netns: str) -> None:
    """nftables inside the namespace: alpine2 ignores IPv4 pings (replies and IPv6 still flow)."""
    ruleset = ("table ip mvtb_drop {\n  chain input {\n    type filter hook input priority 0; policy accept;\n"
               "    icmp type echo-request drop\n  }\n}\n")
    subprocess.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=ruleset, text=True, check=True,
                   capture_output=True, timeout=10)


@pytest.mark.lab
def test_fail_on_error_fails_create_naming_pair_family_and_reason(stub: Any, pod_pair: PodPair) -> None:
    configure(stub)
    drop_ipv4_echo_requests(pod_pair.b)
    checked = check(stub, inputs(pod_pair.endpoints(), settings={**FAST, "pingDeadlineSeconds": 3}))
    with pytest.raises(grpc.RpcError) as raised:
        stub.Create(proto().CreateRequest(urn=URN, name="checks", type=TYPE, properties=checked.inputs, timeout=120))
    assert raised.value.code() == grpc.StatusCode.UNKNOWN
    details = raised.value.details()
    assert "ConnectivityCheckFailed: connectivity check failed: 1 problem:" in details
    assert re.search(r"  - ping/ipv4: alpine1 \(10\.1\.10\.11\) -> alpine2 \(10\.1\.10\.21\): 100% loss"
                     r" \(\d+ sent, 0 received\)", details), details

    # failOnError false: the same failure is recorded instead, and up goes on.
    checked = check(stub, inputs(pod_pair.endpoints(), settings={**FAST, "pingDeadlineSeconds": 3},
                                 failOnError=False))
    outs = plain(stub.Create(proto().CreateRequest(urn=URN, name="checks", type=TYPE, properties=checked.inputs,
                                                   timeout=120)).properties)
    assert outs["passed"] is False
    (failure,) = outs["results"]["failures"]
    assert failure.startswith("ping/ipv4: alpine1 (10.1.10.11) -> alpine2 (10.1.10.21): 100% loss")
    assert outs["summary"][-1] == f"FAIL {failure}"
    assert outs["results"]["checks"][0]["iperf3"] == {"skipped": "no ping reply"}
    assert [c["passed"] for c in outs["results"]["checks"]] == [False, True, True, True]
