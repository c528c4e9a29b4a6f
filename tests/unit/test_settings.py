"""Settings: defaults, string-typed values from the engine, and the bad-config corpus."""
from __future__ import annotations

import json

import pytest

from components.errors import ConfigError
from components.settings import DEFAULT_IMAGE, parse_settings
from tests.stacks import stack_config

GOOD = {"nodes": ["w0", "w1"], "ipv4Subnet": "10.1.10.0/24", "ipv6Subnet": "fd10::/64"}


def with_(**changes):
    raw = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def test_defaults():
    settings = parse_settings(GOOD)
    assert settings.master == "ens16f0"
    assert settings.mode == "bridge"
    assert settings.cni_version == "1.0.0"
    assert settings.namespace == "default"
    assert settings.image == DEFAULT_IMAGE
    assert settings.target == "kubernetes"
    assert settings.families == ("ipv4", "ipv6")
    assert [n.nad for n in settings.nodes] == ["macvlan-w0-ens16f0", "macvlan-w1-ens16f0"]
    assert [n.pod for n in settings.nodes] == ["macvlan-test-w0", "macvlan-test-w1"]
    assert settings.checks.ping_count == 3
    assert settings.checks.fail_on_error is True


def test_values_as_the_engine_passes_them_are_strings_and_json():
    raw = {"nodes": json.dumps([{"name": "w0", "pod": "alpine1"}, "w1"]), "ipv4Subnet": "10.1.10.0/24",
           "rangeSize": "20", "mtu": "1400", "checks": json.dumps({"pingCount": 5, "failOnError": False})}
    settings = parse_settings(raw)
    assert settings.range_size == 20
    assert settings.mtu == 1400
    assert settings.nodes[0].pod == "alpine1"
    assert settings.checks.ping_count == 5
    assert settings.checks.fail_on_error is False


def test_dev_and_lab_stacks_are_valid():
    assert [n.pod for n in parse_settings(stack_config("dev")).nodes] == ["alpine1", "alpine2"]
    assert parse_settings(stack_config("lab")).target == "lab"


BAD = [
    ("unknown mode", with_(mode="macvtap"), "mode", "must be one of bridge, private, vepa, passthru"),
    ("bad cidr", with_(ipv4Subnet="10.1.10.0/33"), "ipv4Subnet", "CIDR"),
    ("not a cidr", with_(ipv4Subnet="banana"), "ipv4Subnet", "CIDR"),
    ("cidr without prefix", with_(ipv4Subnet="10.1.10.0"), "ipv4Subnet", "CIDR"),
    ("v6 in v4 key", with_(ipv4Subnet="fd10::/64"), "ipv4Subnet", "IPv4 network"),
    ("host bits set", with_(ipv4Subnet="10.1.10.5/24"), "ipv4Subnet", "host bits set; the network is 10.1.10.0/24"),
    ("v6 host bits", with_(ipv6Subnet="fd10::1/64"), "ipv6Subnet", "host bits set"),
    ("subnet too small prefix", with_(ipv4Subnet="10.1.10.0/31"), "ipv4Subnet", "too small"),
    ("no subnet", with_(ipv4Subnet=None, ipv6Subnet=None), "ipv4Subnet/ipv6Subnet", "at least one"),
    ("overlapping explicit ranges", with_(nodes=[{"name": "w0", "ranges": ["10.1.10.10-10.1.10.19"]},
                                                 {"name": "w1", "ranges": ["10.1.10.15-10.1.10.29"]}]),
     "nodes[1].ranges[0]", "overlap the range of node w0"),
    ("range outside subnet", with_(nodes=[{"name": "w0", "ranges": ["10.1.11.10-10.1.11.19"]}]),
     "nodes[0].ranges[0]", "inside ipv4Subnet"),
    ("gateway inside a range", with_(ipv4Gateway="10.1.10.12",
                                     nodes=[{"name": "w0", "ranges": ["10.1.10.10-10.1.10.19"]}]),
     "nodes[0].ranges[0]", "the gateway 10.1.10.12"),
    ("default gateway inside a range", with_(nodes=[{"name": "w0", "ranges": ["10.1.10.1-10.1.10.9"]}]),
     "nodes[0].ranges[0]", "the gateway 10.1.10.1"),
    ("gateway outside subnet", with_(ipv4Gateway="10.2.0.1"), "ipv4Gateway", "inside 10.1.10.0/24"),
    ("gateway without subnet", with_(ipv6Subnet=None, ipv6Gateway="fd10::1"), "ipv6Gateway", "needs ipv6Subnet"),
    ("range reversed", with_(nodes=[{"name": "w0", "ranges": ["10.1.10.19-10.1.10.10"]}]),
     "nodes[0].ranges[0]", "first <= last"),
    ("range mixed families", with_(nodes=[{"name": "w0", "ranges": ["10.1.10.10-fd10::19"]}]),
     "nodes[0].ranges[0]", "one family"),
    ("range not a string", with_(nodes=[{"name": "w0", "ranges": [42]}]), "nodes[0].ranges[0]", "<first>-<last>"),
    ("ranges not a list", with_(nodes=[{"name": "w0", "ranges": "10.1.10.10-10.1.10.19"}]),
     "nodes[0].ranges", "must be a list"),
    ("duplicate node names", with_(nodes=["w0", "w0"]), "nodes[1].name", "nodes[0] has it already"),
    ("duplicate pod names", with_(nodes=[{"name": "w0", "pod": "p"}, {"name": "w1", "pod": "p"}]),
     "nodes[1].pod", "must be unique"),
    ("empty node list", with_(nodes=[]), "nodes", "non-empty list"),
    ("no nodes key", with_(nodes=None), "nodes", "at least one node"),
    ("too many nodes", with_(nodes=[f"n{i}" for i in range(5000)]), "nodes", "at most 4096"),
    ("too many nodes for the subnet", with_(nodes=[f"n{i}" for i in range(30)], ipv6Subnet=None),
     "ipv4Subnet", "fits 24 automatic range(s)"),
    ("interface name too long", with_(master="enp1s0f0np0vlan100"), "master", "1 to 15 characters"),
    ("interface name with slash", with_(master="eth/0"), "master", "without '/'"),
    ("nad name not dns-1123", with_(nodes=[{"name": "w0", "nad": "Macvlan_W0"}]), "nodes[0].nad", "DNS-1123"),
    ("default nad name not dns-1123", with_(master="ens_16"), "nodes[0].nad", "set nodes[].nad"),
    ("node name not dns-1123", with_(nodes=["W0"]), "nodes[0].name", "DNS-1123"),
    ("node without name", with_(nodes=[{"pod": "p"}]), "nodes[0].name", "needs a name"),
    ("node of wrong type", with_(nodes=[42]), "nodes[0]", "node name or an object"),
    ("unknown node key", with_(nodes=[{"name": "w0", "rnages": []}]), "nodes[0].rnages", "known node key"),
    ("nodes wrong type", with_(nodes={"w0": {}}), "nodes", "non-empty list"),
    ("rangeSize not int", with_(rangeSize="ten"), "rangeSize", "integer"),
    ("rangeSize zero", with_(rangeSize=0), "rangeSize", "from 1"),
    ("mtu too small", with_(mtu=10), "mtu", "from 68"),
    ("mtu bool", with_(mtu=True), "mtu", "integer"),
    ("bad cni version", with_(cniVersion="2.0.0"), "cniVersion", "one of 0.3.0"),
    ("lab cni version", with_(cniVersion="1.1.0", target="lab"), "cniVersion", "stop at 1.0.0"),
    ("bad target", with_(target="docker"), "target", "kubernetes, lab"),
    ("bad namespace", with_(namespace="Default"), "namespace", "DNS-1123 label"),
    ("unknown key", with_(rangesize=5), "rangesize", "not a known macvlan-testbed key"),
    ("checks not an object", with_(checks=[1]), "checks", "must be an object"),
    ("checks bad json", with_(checks="{not json"), "checks", "JSON"),
    ("ping count zero", with_(checks={"pingCount": 0}), "checks.pingCount", "from 1"),
    ("loss over 100", with_(checks={"maxLossPercent": 150}), "checks.maxLossPercent", "from 0 to 100"),
    ("bad protocol", with_(checks={"iperfProtocol": "sctp"}), "checks.iperfProtocol", "tcp, udp"),
    ("failOnError not bool", with_(checks={"failOnError": "yes"}), "checks.failOnError", "true or false"),
    ("unknown check key", with_(checks={"pingcount": 3}), "checks.pingcount", "known checks key"),
    ("bad udp bitrate", with_(checks={"iperfUdpBitrate": "fast"}), "checks.iperfUdpBitrate", "bitrate"),
    ("render dir on lab", with_(target="lab", renderYamlToDirectory="out"), "renderYamlToDirectory",
     "target kubernetes"),
    ("image with spaces", with_(image="busybox latest"), "image", "without whitespace"),
]


@pytest.mark.parametrize("raw, key, allowed", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_config_is_one_clear_error_naming_key_value_and_allowed(raw, key, allowed):
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw)
    problems = {problem.key: problem for problem in caught.value.problems}
    assert key in problems, caught.value.render()
    assert allowed in problems[key].allowed
    assert f"{key}: got " in caught.value.render()


def test_the_corpus_is_large_enough():
    assert len(BAD) >= 25


def test_all_problems_are_reported_in_one_pass():
    raw = with_(mode="x", master="a" * 20, ipv4Subnet="10.1.10.1/24", checks={"pingCount": -1},
                nodes=["w0", {"name": "w1", "ranges": ["fd10::0-fd10::9"]}])
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw)
    keys = [problem.key for problem in caught.value.problems]
    assert keys == ["master", "mode", "ipv4Subnet", "checks.pingCount", "nodes[1].ranges[0]"]
    assert caught.value.render().startswith("macvlan-testbed: 5 configuration problems:")


def test_lab_target_needs_namespace_safe_names():
    with pytest.raises(ConfigError) as caught:
        parse_settings(with_(target="lab", nodes=["node.example.com", {"name": "w1", "pod": "sw"}]))
    keys = {problem.key: problem.allowed for problem in caught.value.problems}
    assert "target lab needs namespace-safe names" in keys["nodes[0].name"]
    assert "reserved for the lab switch" in keys["nodes[1].pod"]


@pytest.mark.parametrize("stack, lab_id", [("lab", "lab"), ("My_Lab.Stack-2024", "my-lab-stack"), ("___", "lab")])
def test_lab_id_comes_from_the_stack_name(stack, lab_id):
    assert parse_settings(with_(target="lab"), stack=stack).lab_id == lab_id
