"""The planner: disjoint, contained, stable per-node ranges, and clear errors."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from netaddr import IPAddress, IPNetwork, IPRange

from components.errors import ConfigError
from components.plan import NodeSpec, SubnetSpec, format_range, plan_ranges

V4 = SubnetSpec("ipv4", IPNetwork("10.1.10.0/24"), key="ipv4Subnet")
V6 = SubnetSpec("ipv6", IPNetwork("fd10::/64"), key="ipv6Subnet")


def nodes(*names: str) -> list[NodeSpec]:
    return [NodeSpec(name, key=f"nodes[{i}]") for i, name in enumerate(names)]


def ranges(plan, family):
    return {node: [format_range(r) for r in rs] for node, rs in plan.family(family).ranges.items()}


def test_automatic_ipv4_plan_reproduces_the_seed_ranges():
    plan = plan_ranges(nodes("w0", "w1"), [V4], range_size=10)
    assert ranges(plan, "ipv4") == {"w0": ["10.1.10.10-10.1.10.19"], "w1": ["10.1.10.20-10.1.10.29"]}


def test_automatic_ipv6_blocks_are_aligned_to_range_size():
    plan = plan_ranges(nodes("w0", "w1"), [V6], range_size=16)
    assert ranges(plan, "ipv6") == {"w0": ["fd10::10-fd10::1f"], "w1": ["fd10::20-fd10::2f"]}


def test_explicit_ranges_are_honoured_and_automatic_ones_avoid_them():
    spec = [NodeSpec("w0", (IPRange("10.1.10.10", "10.1.10.19"),), "nodes[0]"), *nodes("w1")]
    spec[1] = NodeSpec("w1", key="nodes[1]")
    plan = plan_ranges(spec, [V4], range_size=10)
    assert ranges(plan, "ipv4") == {"w0": ["10.1.10.10-10.1.10.19"], "w1": ["10.1.10.20-10.1.10.29"]}


def test_explicit_range_of_one_family_leaves_the_other_automatic():
    spec = [NodeSpec("w0", (IPRange("10.1.10.100", "10.1.10.109"),), "nodes[0]")]
    plan = plan_ranges(spec, [V4, V6], range_size=10)
    assert ranges(plan, "ipv4") == {"w0": ["10.1.10.100-10.1.10.109"]}
    assert ranges(plan, "ipv6") == {"w0": ["fd10::a-fd10::13"]}


def test_capacity_is_the_sum_of_a_nodes_ranges():
    spec = [NodeSpec("w0", (IPRange("10.1.10.10", "10.1.10.19"), IPRange("10.1.10.40", "10.1.10.44")), "nodes[0]")]
    plan = plan_ranges(spec, [V4], range_size=10)
    assert plan.family("ipv4").capacity("w0") == 15
    assert plan.to_data()["w0"]["ipv4"] == {
        "subnet": "10.1.10.0/24", "ranges": ["10.1.10.10-10.1.10.19", "10.1.10.40-10.1.10.44"], "capacity": 15}


def test_explicit_gateway_is_never_inside_a_planned_range():
    spec = SubnetSpec("ipv4", IPNetwork("10.1.10.0/24"), gateway=IPAddress("10.1.10.15"), key="ipv4Subnet")
    plan = plan_ranges(nodes("w0", "w1"), [spec], range_size=10)
    assert ranges(plan, "ipv4") == {"w0": ["10.1.10.20-10.1.10.29"], "w1": ["10.1.10.30-10.1.10.39"]}


@pytest.mark.parametrize("text, match", [
    ("10.1.10.0-10.1.10.9", r"nodes\[0\]\.ranges\[0\].*network address 10\.1\.10\.0"),
    ("10.1.10.1-10.1.10.9", r"the gateway 10\.1\.10\.1"),
    ("10.1.10.250-10.1.10.255", r"the broadcast address 10\.1\.10\.255"),
    ("10.1.11.10-10.1.11.19", r"must lie inside ipv4Subnet 10\.1\.10\.0/24"),
])
def test_bad_explicit_ranges_are_named(text, match):
    first, last = text.split("-")
    spec = [NodeSpec("w0", (IPRange(first, last),), "nodes[0]")]
    with pytest.raises(ConfigError, match=match):
        plan_ranges(spec, [V4], range_size=10)


def test_overlapping_explicit_ranges_name_the_other_node():
    spec = [NodeSpec("w0", (IPRange("10.1.10.10", "10.1.10.19"),), "nodes[0]"),
            NodeSpec("w1", (IPRange("10.1.10.15", "10.1.10.25"),), "nodes[1]")]
    with pytest.raises(ConfigError, match=r"nodes\[1\]\.ranges\[0\].*overlap the range of node w0"):
        plan_ranges(spec, [V4], range_size=10)


def test_explicit_range_may_not_take_an_earlier_nodes_planned_range():
    spec = [*nodes("w0"), NodeSpec("w1", (IPRange("10.1.10.12", "10.1.10.13"),), "nodes[1]")]
    with pytest.raises(ConfigError, match=r"overlap the range of node w0 \(planned\)"):
        plan_ranges(spec, [V4], range_size=10)


def test_range_of_an_unconfigured_family_is_an_error():
    spec = [NodeSpec("w0", (IPRange("fd10::10", "fd10::19"),), "nodes[0]")]
    with pytest.raises(ConfigError, match=r"an ipv6 range needs ipv6Subnet"):
        plan_ranges(spec, [V4], range_size=10)


def test_subnet_too_small_gives_the_numbers():
    with pytest.raises(ConfigError) as caught:
        plan_ranges(nodes(*[f"w{i}" for i in range(30)]), [V4], range_size=10)
    message = str(caught.value)
    assert "ipv4Subnet" in message
    assert "fits 24 automatic range(s) of rangeSize 10" in message
    assert "30 node(s) need one" in message


# --- properties -------------------------------------------------------------

@st.composite
def subnets(draw):
    if draw(st.booleans()):
        prefix = draw(st.integers(16, 29))
        base = draw(st.integers(0, 2**32 - 1)) >> (32 - prefix) << (32 - prefix)
        return SubnetSpec("ipv4", IPNetwork(f"{IPAddress(base, 4)}/{prefix}"), key="ipv4Subnet")
    prefix = draw(st.integers(48, 124))
    base = draw(st.integers(0, 2**128 - 1)) >> (128 - prefix) << (128 - prefix)
    return SubnetSpec("ipv6", IPNetwork(f"{IPAddress(base, 6)}/{prefix}"), key="ipv6Subnet")


def reserved_of(spec: SubnetSpec) -> set[int]:
    return set(spec.reserved())


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=subnets(), count=st.integers(1, 60), size=st.integers(1, 300))
def test_plans_are_disjoint_contained_clear_of_reserved_and_stable(spec, count, size):
    names = nodes(*[f"n{i}" for i in range(count)])
    try:
        plan = plan_ranges(names, [spec], size)
    except ConfigError as error:
        # Only ever refused for lack of room, and then with the numbers.
        assert len(error.problems) == 1
        assert error.problems[0].key == spec.key
        assert f"rangeSize {size}" in error.problems[0].allowed
        assert f"{count} node(s) need one" in error.problems[0].allowed
        return
    family = plan.family(spec.family)
    intervals = sorted((r.first, r.last) for rs in family.ranges.values() for r in rs)
    assert len(intervals) == count
    for (_, last), (first, _) in zip(intervals, intervals[1:]):
        assert last < first, "ranges overlap"
    for first, last in intervals:
        assert spec.subnet.first <= first <= last <= spec.subnet.last
        assert last - first + 1 == size
        assert not any(first <= a <= last for a in reserved_of(spec))
    # Stability: a prefix of the node list plans exactly the same ranges.
    cut = count // 2 or 1
    prefix_plan = plan_ranges(names[:cut], [spec], size).family(spec.family)
    for node in names[:cut]:
        assert prefix_plan.ranges[node.name] == family.ranges[node.name]


@settings(max_examples=500, deadline=None)
@given(spec=subnets(), count=st.integers(2, 30), size=st.integers(1, 20), pin=st.integers(0, 29),
       offset=st.integers(0, 200))
def test_an_explicit_range_is_kept_or_refused_never_overlapped(spec, count, size, pin, offset):
    pin %= count
    start = min(spec.subnet.first + offset, spec.subnet.last)
    end = min(start + size - 1, spec.subnet.last)
    explicit = IPRange(IPAddress(start, spec.subnet.version), IPAddress(end, spec.subnet.version))
    names = nodes(*[f"n{i}" for i in range(count)])
    names[pin] = NodeSpec(names[pin].name, (explicit,), names[pin].key)
    try:
        plan = plan_ranges(names, [spec], size)
    except ConfigError as error:
        assert error.problems
        return
    family = plan.family(spec.family)
    assert family.ranges[names[pin].name] == (explicit,)
    intervals = sorted((r.first, r.last) for rs in family.ranges.values() for r in rs)
    for (_, last), (first, _) in zip(intervals, intervals[1:]):
        assert last < first
