"""Every lab name derives from one lab_id, so several labs coexist on one host without clashing."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

NETNS_PREFIX = "mvtb"
SWITCH = "sw"
NETNS_DIR = "/var/run/netns"
STATE_ROOT = "/run/macvlan-testbed"
IFNAME_MAX = 15  # IFNAMSIZ - 1
LAB_ID_MAX = 12
MEMBER_MAX = 40  # keeps "mvtb-<lab_id>-<member>" at most 58 characters

_LAB_ID = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_MEMBER = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
# The kernel refuses "", ".", "..", "/", ":" and whitespace; the narrower set keeps argv and paths plain.
_IFNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def validate_lab_id(lab_id: object) -> str:
    """Reject a lab_id that could not prefix netns names and paths safely."""
    if not isinstance(lab_id, str) or len(lab_id) > LAB_ID_MAX or not _LAB_ID.match(lab_id):
        raise ValueError(
            f"lab_id {lab_id!r} is invalid: use 1-{LAB_ID_MAX} characters of [a-z0-9-], "
            "starting and ending with a letter or digit"
        )
    return lab_id


def validate_member(name: object, what: str = "name") -> str:
    """Reject a node or pod name that could not be a netns suffix (or is the switch's)."""
    if not isinstance(name, str) or len(name) > MEMBER_MAX or not _MEMBER.match(name):
        raise ValueError(
            f"{what} {name!r} is invalid: use 1-{MEMBER_MAX} characters of [a-z0-9-], "
            "starting and ending with a letter or digit"
        )
    if name == SWITCH:
        raise ValueError(f"{what} {name!r} is reserved for the lab switch namespace")
    return name


def validate_ifname(name: object, what: str = "interface name") -> str:
    """Reject an interface name the kernel would refuse or truncate."""
    if (
        not isinstance(name, str)
        or not 1 <= len(name) <= IFNAME_MAX
        or not _IFNAME.match(name)
        or name in {".", ".."}
    ):
        raise ValueError(
            f"{what} {name!r} is invalid: use 1-{IFNAME_MAX} characters of [A-Za-z0-9_.-]"
        )
    return name


def switch_port(node: str) -> str:
    """Short, stable name of the switch-side veth end for a node (readable when it fits)."""
    validate_member(node, "node")
    readable = f"p-{node}"
    if len(readable) <= IFNAME_MAX:
        return readable
    return "p-" + hashlib.sha256(node.encode()).hexdigest()[: IFNAME_MAX - 2]


@dataclass(frozen=True)
class Lab:
    """One lab's identity: its id and where its nodes keep their host-local leases."""

    lab_id: str
    state_dir: str = ""
    """Empty means /run/macvlan-testbed/<lab_id>."""

    def __post_init__(self) -> None:
        validate_lab_id(self.lab_id)
        if not isinstance(self.state_dir, str):
            raise ValueError(f"state_dir {self.state_dir!r} must be a path string")
        state = self.state_dir or os.path.join(STATE_ROOT, self.lab_id)
        object.__setattr__(self, "state_dir", os.path.abspath(state))

    @property
    def prefix(self) -> str:
        """Every netns of this lab starts with this."""
        return f"{NETNS_PREFIX}-{self.lab_id}-"

    @property
    def switch_netns(self) -> str:
        """The namespace holding the bridge when more than two nodes share the wire."""
        return self.prefix + SWITCH

    def node_netns(self, node: str) -> str:
        """Namespace standing for a Kubernetes node."""
        return self.prefix + validate_member(node, "node")

    def pod_netns(self, pod: str) -> str:
        """Namespace standing for a pod's sandbox."""
        return self.prefix + validate_member(pod, "pod")

    def node_dir(self, node: str) -> str:
        """A node's private "disk" under the lab state dir."""
        return os.path.join(self.state_dir, validate_member(node, "node"))

    def node_data_dir(self, node: str) -> str:
        """host-local dataDir of one node, so nodes never share a lease store."""
        return os.path.join(self.node_dir(node), "ipam")

    def container_id(self, pod: str) -> str:
        """Deterministic CNI_CONTAINERID, so DEL after a crash finds the lease ADD wrote."""
        return f"{NETNS_PREFIX}-{self.lab_id}-{validate_member(pod, 'pod')}"


def netns_path(netns: str) -> str:
    """The bind-mount path a CNI runtime hands to plugins as CNI_NETNS."""
    return os.path.join(NETNS_DIR, netns)
