"""Plan one disjoint host-local range per node and address family (pure: netaddr, no pulumi).

host-local keeps its leases on each node's disk, so two nodes given the same range hand
out the same address. Every node therefore gets ranges no other node has, inside the
shared subnet, never holding the network address, the IPv4 broadcast or the gateway.

Stability rule: nodes are planned in list order and a node's ranges depend only on the
nodes before it, so appending a node never moves an existing node's addresses.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping, Optional, Sequence

from netaddr import IPAddress, IPNetwork, IPRange

from components.errors import ConfigError, ConfigProblem

Family = Literal["ipv4", "ipv6"]
FAMILIES: tuple[Family, ...] = ("ipv4", "ipv6")
VERSION_OF: Mapping[Family, int] = {"ipv4": 4, "ipv6": 6}
FAMILY_OF_VERSION: Mapping[int, Family] = {4: "ipv4", 6: "ipv6"}


@dataclass(frozen=True)
class SubnetSpec:
    """A family's shared subnet and its optional explicit gateway."""

    family: Family
    subnet: IPNetwork
    gateway: Optional[IPAddress] = None
    key: str = ""
    """Config key the subnet came from, for error messages (e.g. ``ipv4Subnet``)."""

    @property
    def effective_gateway(self) -> IPAddress:
        """host-local's gateway: the explicit one, else the subnet's first host address."""
        if self.gateway is not None:
            return self.gateway
        return IPAddress(self.subnet.first + 1, self.subnet.version)

    def reserved(self) -> tuple[int, ...]:
        """Addresses no range may hold: network, gateway and (IPv4) broadcast."""
        addresses = {self.subnet.first, int(self.effective_gateway)}
        if self.family == "ipv4":
            addresses.add(self.subnet.last)
        return tuple(sorted(addresses))


@dataclass(frozen=True)
class NodeSpec:
    """A node to plan for, with any ranges the user pinned by hand (any family)."""

    name: str
    ranges: tuple[IPRange, ...] = ()
    key: str = ""
    """Config key of this node (e.g. ``nodes[1]``); its ranges are ``<key>.ranges[j]``."""


@dataclass(frozen=True)
class FamilyPlan:
    """The ranges of one family, per node, in node order."""

    family: Family
    subnet: IPNetwork
    gateway: IPAddress
    gateway_explicit: bool
    ranges: Mapping[str, tuple[IPRange, ...]]

    def capacity(self, node: str) -> int:
        """How many addresses host-local can hand out on this node."""
        return sum(r.size for r in self.ranges[node])


@dataclass(frozen=True)
class Plan:
    """The whole plan: nodes in order and one FamilyPlan per configured family."""

    nodes: tuple[str, ...]
    families: tuple[FamilyPlan, ...]

    def family(self, family: Family) -> FamilyPlan:
        """The plan of one family; KeyError when that family is not configured."""
        for plan in self.families:
            if plan.family == family:
                return plan
        raise KeyError(family)

    def ranges_for(self, node: str) -> dict[Family, tuple[IPRange, ...]]:
        """A node's ranges, per configured family."""
        return {plan.family: plan.ranges[node] for plan in self.families}

    def to_data(self) -> dict[str, dict[str, dict[str, object]]]:
        """JSON-able view for stack outputs: node -> family -> ranges and capacity."""
        return {
            node: {
                plan.family: {
                    "subnet": str(plan.subnet),
                    "ranges": [format_range(r) for r in plan.ranges[node]],
                    "capacity": plan.capacity(node),
                }
                for plan in self.families
            }
            for node in self.nodes
        }


def format_range(ip_range: IPRange) -> str:
    """``first-last`` as users write ranges in config."""
    return f"{ip_range[0]}-{ip_range[-1]}"


def plan_ranges(nodes: Sequence[NodeSpec], subnets: Sequence[SubnetSpec], range_size: int) -> Plan:
    """Plan every family for every node; raise ConfigError listing all problems found."""
    problems: list[ConfigProblem] = []
    families = []
    configured = {spec.family for spec in subnets}
    for node in nodes:
        for index, ip_range in enumerate(node.ranges):
            family = FAMILY_OF_VERSION[ip_range.version]
            if family not in configured:
                problems.append(ConfigProblem(
                    f"{node.key}.ranges[{index}]", format_range(ip_range),
                    f"an {family} range needs {family}Subnet to be set"))
    for spec in subnets:
        plan, found = _plan_family(nodes, spec, range_size)
        problems.extend(found)
        families.append(plan)
    if problems:
        raise ConfigError(problems)
    return Plan(nodes=tuple(node.name for node in nodes), families=tuple(families))


@dataclass
class _Occupied:
    """Sorted, non-overlapping integer intervals already given to earlier nodes."""

    starts: list[int] = field(default_factory=list)
    intervals: list[tuple[int, int, str]] = field(default_factory=list)

    def overlap(self, first: int, last: int) -> Optional[tuple[int, int, str]]:
        """The interval overlapping [first, last], if any."""
        index = bisect.bisect_right(self.starts, last) - 1
        # Intervals never overlap each other, so only the nearest one starting at or
        # before `last` can reach into [first, last].
        if index >= 0 and self.intervals[index][1] >= first:
            return self.intervals[index]
        return None

    def add(self, first: int, last: int, owner: str) -> None:
        index = bisect.bisect_right(self.starts, first)
        self.starts.insert(index, first)
        self.intervals.insert(index, (first, last, owner))


def _plan_family(
    nodes: Sequence[NodeSpec], spec: SubnetSpec, range_size: int
) -> tuple[FamilyPlan, list[ConfigProblem]]:
    """Plan one family: explicit ranges are checked, the rest are cut in order."""
    problems: list[ConfigProblem] = []
    version = VERSION_OF[spec.family]
    subnet = spec.subnet
    reserved = spec.reserved()
    reserved_names = {subnet.first: "the network address", int(spec.effective_gateway): "the gateway"}
    if spec.family == "ipv4":
        reserved_names.setdefault(subnet.last, "the broadcast address")
    subnet_first, subnet_last = subnet.first, subnet.last
    occupied = _Occupied()
    cursor = 0  # index of the next candidate block of `range_size` addresses
    planned: dict[str, tuple[IPRange, ...]] = {}
    unplaced = 0
    placed_automatically = 0

    for node in nodes:
        explicit = [(i, r) for i, r in enumerate(node.ranges) if r.version == version]
        if explicit:
            kept = []
            for index, ip_range in explicit:
                key = f"{node.key}.ranges[{index}]"
                reason = _explicit_range_problem(ip_range, subnet, reserved, reserved_names, occupied, spec)
                if reason:
                    problems.append(ConfigProblem(key, format_range(ip_range), reason))
                    continue
                occupied.add(ip_range.first, ip_range.last, f"{node.name} ({format_range(ip_range)})")
                kept.append(ip_range)
            planned[node.name] = tuple(kept)
            continue

        block = _next_free_block(subnet_first, subnet_last, range_size, cursor, reserved, occupied)
        if block is None:
            unplaced += 1
            planned[node.name] = ()
            continue
        cursor, first, last = block
        cursor += 1
        placed_automatically += 1
        occupied.add(first, last, f"{node.name} (planned)")
        # IPRange takes the end's version from the start; an int start is only unambiguous for IPv4.
        start: int | IPAddress = first if version == 4 else IPAddress(first, 6)
        planned[node.name] = (IPRange(start, last),)

    if unplaced:
        problems.append(ConfigProblem(
            spec.key or f"{spec.family}Subnet", str(subnet),
            f"it fits {placed_automatically} automatic range(s) of rangeSize {range_size} "
            f"(after the network address, the gateway{', the broadcast' if version == 4 else ''} "
            f"and any explicit ranges) but {placed_automatically + unplaced} node(s) need one: "
            f"use a larger subnet or a smaller rangeSize"))

    plan = FamilyPlan(
        family=spec.family,
        subnet=subnet,
        gateway=spec.effective_gateway,
        gateway_explicit=spec.gateway is not None,
        ranges=planned,
    )
    return plan, problems


def _explicit_range_problem(
    ip_range: IPRange,
    subnet: IPNetwork,
    reserved: Iterable[int],
    reserved_names: Mapping[int, str],
    occupied: _Occupied,
    spec: SubnetSpec,
) -> Optional[str]:
    """Why a hand-written range cannot be used, or None when it can."""
    if ip_range.first < subnet.first or ip_range.last > subnet.last:
        return f"must lie inside {spec.key or spec.family + 'Subnet'} {subnet}"
    for address in reserved:
        if ip_range.first <= address <= ip_range.last:
            what = reserved_names.get(address, "a reserved address")
            return f"must not hold {what} {IPAddress(address, subnet.version)}"
    clash = occupied.overlap(ip_range.first, ip_range.last)
    if clash is not None:
        return f"must not overlap the range of node {clash[2]}"
    return None


def _next_free_block(
    base: int, end: int, size: int, cursor: int, reserved: Sequence[int], occupied: _Occupied
) -> Optional[tuple[int, int, int]]:
    """First block at or after `cursor` inside [base, end], clear of reserved addresses and earlier ranges.

    Blocks are aligned to multiples of `size` from the network address, so a /24 with
    rangeSize 10 gives .10-.19, .20-.29, ... exactly as the seed runbook chose by hand.
    """
    while True:
        first = base + cursor * size
        last = first + size - 1
        if last > end:
            return None
        for address in reserved:
            if first <= address <= last:
                cursor = (address - base) // size + 1
                break
        else:
            clash = occupied.overlap(first, last)
            if clash is None:
                return cursor, first, last
            cursor = (clash[1] - base) // size + 1
