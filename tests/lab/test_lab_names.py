"""Names derived from lab_id: valid, within kernel limits, distinct between labs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.lab.names import IFNAME_MAX, Lab, switch_port, validate_ifname, validate_lab_id, validate_member

CONTAINER_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")  # CNI spec
lab_ids = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
members = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?\Z").filter(lambda n: n != "sw")


def test_names_follow_the_lab_scheme() -> None:
    lab = Lab("dev1")
    assert lab.node_netns("w0") == "mvtb-dev1-w0"
    assert lab.pod_netns("alpine1") == "mvtb-dev1-alpine1"
    assert lab.switch_netns == "mvtb-dev1-sw"
    assert lab.state_dir == "/run/macvlan-testbed/dev1"
    assert lab.node_data_dir("w0") == "/run/macvlan-testbed/dev1/w0/ipam"
    assert lab.container_id("alpine1") == "mvtb-dev1-alpine1"


def test_state_dir_is_overridable() -> None:
    assert Lab("dev1", "/tmp/x/").node_data_dir("w1") == "/tmp/x/w1/ipam"


@pytest.mark.parametrize("bad", ["", "A", "-a", "a-", "a_b", "a.b", "x" * 13, None, 7])
def test_bad_lab_id_is_rejected_naming_value_and_rule(bad: object) -> None:
    with pytest.raises(ValueError, match=r"lab_id .* is invalid: use 1-12 characters of \[a-z0-9-\]"):
        validate_lab_id(bad)


@pytest.mark.parametrize("bad", ["", "W0", "w_0", "w0-", "x" * 41, "../w0"])
def test_bad_member_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="node .* is invalid"):
        Lab("dev1").node_netns(bad)


def test_switch_name_is_reserved() -> None:
    with pytest.raises(ValueError, match="reserved for the lab switch"):
        validate_member("sw", "pod")


@pytest.mark.parametrize("bad", ["", "a" * 16, "a b", "a/b", "a:b", ".", ".."])
def test_bad_ifname_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="is invalid: use 1-15 characters"):
        validate_ifname(bad)


def test_switch_port_is_readable_when_it_fits() -> None:
    assert switch_port("w0") == "p-w0"
    assert len(switch_port("a-very-long-node-name")) == IFNAME_MAX


@given(lab_ids, members)
def test_every_valid_name_fits_the_limits(lab_id: str, member: str) -> None:
    lab = Lab(lab_id)
    assert len(lab.node_netns(member)) <= 58
    assert len(switch_port(member)) <= IFNAME_MAX
    assert CONTAINER_ID.match(lab.container_id(member))


@given(st.lists(members, min_size=2, max_size=8, unique=True))
def test_switch_ports_are_distinct(nodes: list) -> None:
    assert len({switch_port(n) for n in nodes}) == len(nodes)
