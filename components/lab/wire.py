"""The "DAC link": one veth between two node namespaces, or a bridge in a switch netns for more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from components.lab import netns
from components.lab.names import Lab, switch_port, validate_ifname, validate_member
from components.lab.run import run

BRIDGE = "br0"
MTU_MIN = 68
MTU_MAX = 65535
VETH = "veth"
SWITCHED = "bridge"


@dataclass(frozen=True)
class Wire:
    """What create_wire built, for outputs and for tests to inspect."""

    kind: str
    """"veth" for exactly two nodes, "bridge" otherwise."""
    master: str
    nodes: Tuple[str, ...]
    switch_netns: Optional[str]
    mtu: Optional[int]


def validate_nodes(nodes: Sequence[str]) -> Tuple[str, ...]:
    """Reject a node list that is empty, repeats a node or holds a bad name."""
    if isinstance(nodes, str) or not isinstance(nodes, Sequence) or not nodes:
        raise ValueError(f"nodes {nodes!r} must be a non-empty list of node names")
    names = tuple(validate_member(n, "node") for n in nodes)
    if len(set(names)) != len(names):
        raise ValueError(f"nodes {list(names)!r} contain duplicates")
    return names


def validate_master(master: str) -> str:
    """Reject a master name the kernel would refuse or the lab uses itself."""
    validate_ifname(master, "master")
    if master in (BRIDGE, "lo"):
        raise ValueError(f"master {master!r} is reserved; use another name such as 'ens16f0'")
    return master


def validate_mtu(mtu: Optional[int]) -> Optional[int]:
    """Reject an MTU outside what Ethernet links accept."""
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int) or not MTU_MIN <= mtu <= MTU_MAX):
        raise ValueError(f"mtu {mtu!r} must be an integer in [{MTU_MIN}, {MTU_MAX}] or None")
    return mtu


def validate_wire(nodes: Sequence[str], master: str, mtu: Optional[int]) -> Tuple[str, ...]:
    """Reject wire inputs that would fail half-way through creation."""
    names = validate_nodes(nodes)
    validate_master(master)
    validate_mtu(mtu)
    return names


def wire_kind(nodes: Sequence[str]) -> str:
    """Two nodes get a direct veth like the seed's DAC cable; any other count gets a switch."""
    return VETH if len(nodes) == 2 else SWITCHED


def _mtu_args(mtu: Optional[int]) -> List[str]:
    """`ip link set` arguments for an optional MTU."""
    return ["mtu", str(mtu)] if mtu is not None else []


def _complete(lab: Lab, nodes: Sequence[str], master: str) -> bool:
    """True when every link of the wire already exists (a repeated create is then a no-op)."""
    if not all(netns.link_exists(lab.node_netns(n), master) for n in nodes):
        return False
    if wire_kind(nodes) == VETH:
        return True
    sw = lab.switch_netns
    return netns.link_exists(sw, BRIDGE) and all(netns.link_exists(sw, switch_port(n)) for n in nodes)


def _up(ns: str, ifname: str, mtu: Optional[int], *extra: str) -> None:
    """Bring a link up, with its MTU and any extra `ip link set` arguments."""
    run(["ip", "-n", ns, "link", "set", "dev", ifname, *_mtu_args(mtu), *extra, "up"])


def _build(lab: Lab, nodes: Sequence[str], master: str, mtu: Optional[int]) -> None:
    """Create the links; only namespaces of this lab are touched, never the root namespace."""
    if wire_kind(nodes) == VETH:
        a, b = (lab.node_netns(n) for n in nodes)
        run(["ip", "link", "add", master, "netns", a, "type", "veth", "peer", "name", master, "netns", b])
        _up(a, master, mtu)
        _up(b, master, mtu)
        return
    sw = lab.switch_netns
    netns.add(sw, lab.lab_id)
    # The switch only forwards frames: no IPv6 link-local chatter of its own.
    netns.sysctl(sw, {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"})
    run(["ip", "-n", sw, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "mcast_snooping", "0"])
    _up(sw, BRIDGE, mtu)
    for node in nodes:
        port = switch_port(node)
        run(["ip", "link", "add", master, "netns", lab.node_netns(node), "type", "veth", "peer", "name", port, "netns", sw])
        _up(sw, port, mtu, "master", BRIDGE)
        _up(lab.node_netns(node), master, mtu)


def create_wire(lab: Lab, nodes: Sequence[str], master: str, mtu: Optional[int] = None) -> Wire:
    """Connect the node namespaces through an interface named master; idempotent, all-or-nothing."""
    names = validate_wire(nodes, master, mtu)
    if not _complete(lab, names, master):
        delete_wire(lab, names, master)  # leftovers of an interrupted create
        try:
            _build(lab, names, master, mtu)
        except BaseException:
            delete_wire(lab, names, master)
            raise
    else:
        for node in names:
            _up(lab.node_netns(node), master, mtu)
    kind = wire_kind(names)
    return Wire(kind, master, names, lab.switch_netns if kind == SWITCHED else None, mtu)


def delete_wire(lab: Lab, nodes: Sequence[str], master: str) -> None:
    """Remove every link of the wire (a veth's peer goes with it) and the switch; idempotent."""
    for node in nodes:
        ns = lab.node_netns(node)
        if netns.link_exists(ns, master):
            run(["ip", "-n", ns, "link", "delete", "dev", master])
    netns.delete(lab.switch_netns)
