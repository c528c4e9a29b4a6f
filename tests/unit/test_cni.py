"""NAD rendering: the seed's config, names and annotations."""
from __future__ import annotations

import json

import pytest

from components import cni
from components.settings import parse_settings
from tests.stacks import stack_config

# Copied verbatim from the seed runbook's `k describe network-attachment-definition macvlan-w0-ens16f0`.
SEED_W0_CONFIG = (
    '{ "cniVersion": "0.3.0", "type": "macvlan", "master": "ens16f0", "mode": "bridge", "ipam": '
    '{ "type": "host-local", "ranges": [ [ { "subnet": "10.1.10.0/24", "rangeStart": "10.1.10.10", '
    '"rangeEnd": "10.1.10.19" } ], [ { "subnet": "fd10::/64", "rangeStart": "fd10::10", '
    '"rangeEnd": "fd10::19" } ] ] } }'
)


def render(settings, node):
    return cni.render_nad_config(node=node, families=settings.plan.families, master=settings.master,
                                 mode=settings.mode, cni_version=settings.cni_version, mtu=settings.mtu)


def test_dev_stack_renders_the_seeds_w0_config_exactly():
    settings = parse_settings(stack_config("dev"))
    assert json.loads(cni.config_json(render(settings, "w0"))) == json.loads(SEED_W0_CONFIG)


def test_dev_stack_w1_differs_only_in_its_ranges():
    settings = parse_settings(stack_config("dev"))
    w1 = render(settings, "w1")
    expected = json.loads(SEED_W0_CONFIG)
    expected["ipam"]["ranges"] = [
        [{"subnet": "10.1.10.0/24", "rangeStart": "10.1.10.20", "rangeEnd": "10.1.10.29"}],
        [{"subnet": "fd10::/64", "rangeStart": "fd10::20", "rangeEnd": "fd10::29"}],
    ]
    assert w1 == expected


def test_explicit_gateway_and_mtu_are_rendered():
    settings = parse_settings({"nodes": ["w0"], "ipv4Subnet": "10.1.10.0/24", "ipv4Gateway": "10.1.10.254",
                               "mtu": 9000})
    config = render(settings, "w0")
    assert config["mtu"] == 9000
    assert config["ipam"]["ranges"] == [[{"subnet": "10.1.10.0/24", "rangeStart": "10.1.10.10",
                                          "rangeEnd": "10.1.10.19", "gateway": "10.1.10.254"}]]


def test_single_stack_renders_one_range_set():
    settings = parse_settings({"nodes": ["w0"], "ipv6Subnet": "fd10::/64", "rangeSize": 16})
    assert render(settings, "w0")["ipam"]["ranges"] == [
        [{"subnet": "fd10::/64", "rangeStart": "fd10::10", "rangeEnd": "fd10::1f"}]]


def test_networks_annotation_is_the_json_form_with_net1():
    assert json.loads(cni.networks_annotation("macvlan-w0-ens16f0", "default")) == [
        {"name": "macvlan-w0-ens16f0", "namespace": "default", "interface": "net1"}]


def test_default_names():
    assert cni.default_nad_name("w0", "ens16f0") == "macvlan-w0-ens16f0"
    assert cni.default_pod_name("w0") == "macvlan-test-w0"


@pytest.mark.parametrize("name, ok", [
    ("ens16f0", True), ("eth0.100", True), ("a" * 15, True),
    ("a" * 16, False), ("", False), ("eth/0", False), ("eth 0", False), ("eth:0", False), ("..", False),
])
def test_interface_names(name, ok):
    assert (cni.interface_name_problem(name) is None) is ok


@pytest.mark.parametrize("name, ok", [
    ("macvlan-w0-ens16f0", True), ("a.b-c", True), ("a" * 253, True),
    ("Macvlan", False), ("-a", False), ("a-", False), ("a_b", False), ("a" * 254, False), ("", False),
])
def test_dns1123_subdomains(name, ok):
    assert (cni.dns1123_subdomain_problem(name) is None) is ok
