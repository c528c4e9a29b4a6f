"""Lab pods: a sandbox netns attached with CNI ADD/DEL run by the real plugin inside the node netns."""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from components.lab import netns, netconf, result
from components.lab.errors import LabError
from components.lab.names import Lab, netns_path, validate_ifname, validate_member
from components.lab.plugin import CNI_PATH, PLUGIN_TIMEOUT, Attachment, invoke
from components.lab.run import run

DEFAULT_IFNAME = "net1"
# DAD would hold ADD ~2 s per pod (the plugin waits for addresses to settle); the lab has no duplicates to detect.
NO_DAD = {"net.ipv6.conf.all.accept_dad": "0", "net.ipv6.conf.default.accept_dad": "0"}

Config = Union[str, Mapping[str, Any]]


@dataclass(frozen=True)
class PodAttachment:
    """What CNI ADD gave a lab pod: its sandbox, net1 addresses and MAC, and the raw result."""

    pod: str
    node: str
    netns: str
    ifname: str
    container_id: str
    addresses: Tuple[str, ...]
    """CIDR strings as the plugin reported them, e.g. "10.1.10.10/24"."""
    mac: str
    result: Dict[str, Any] = field(compare=False)

    def ips(self, ip_version: int) -> Tuple[str, ...]:
        """Bare addresses of one family (4 or 6), for ping targets and range checks."""
        return tuple(
            str(i.ip) for i in map(ipaddress.ip_interface, self.addresses) if i.version == ip_version
        )

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-able form for provider outputs."""
        return {
            "pod": self.pod,
            "node": self.node,
            "netns": self.netns,
            "ifname": self.ifname,
            "container_id": self.container_id,
            "addresses": list(self.addresses),
            "ipv4": list(self.ips(4)),
            "ipv6": list(self.ips(6)),
            "mac": self.mac,
            "result": self.result,
        }


def _attachment(lab: Lab, pod: str, ifname: str) -> Attachment:
    """The CNI attachment key of a pod, with the CNI_ARGS kubelet would pass."""
    cid = lab.container_id(pod)
    args = f"IgnoreUnknown=1;K8S_POD_NAMESPACE={lab.lab_id};K8S_POD_NAME={pod};K8S_POD_INFRA_CONTAINER_ID={cid}"
    return Attachment(cid, netns_path(lab.pod_netns(pod)), ifname, args)


def _mac(ns: str, ifname: str) -> str:
    """MAC of the pod interface when the result did not carry one (0.1/0.2 results)."""
    links = json.loads(run(["ip", "-j", "-n", ns, "link", "show", "dev", ifname]).stdout)
    return str(links[0]["address"])


def _release(
    lab: Lab, pod: str, node: str, conf: Dict[str, Any], ifname: str, cni_path: str, timeout: float
) -> None:
    """CNI DEL; when the main plugin refuses (its master is gone), release the IPAM lease directly."""
    att = _attachment(lab, pod, ifname)
    node_ns = lab.node_netns(node)
    ipam = conf.get("ipam") if isinstance(conf.get("ipam"), dict) else None
    if netns.exists(node_ns):
        try:
            invoke("DEL", conf["type"], conf, att, inside=node_ns, cni_path=cni_path, timeout=timeout)
            return
        except LabError:
            # macvlan 1.1.1 loads its master even for DEL and fails with "Link not found" once the
            # wire is gone; the lease must still go, which only the IPAM plugin can do.
            if ipam is None:
                raise
            invoke("DEL", ipam["type"], conf, att, inside=node_ns, cni_path=cni_path, timeout=timeout)
            return
    if ipam is not None and os.path.isdir(lab.node_data_dir(node)):
        # Node netns gone but its lease store survived: IPAM DEL only touches files, so no netns is needed.
        invoke("DEL", ipam["type"], conf, att, cni_path=cni_path, timeout=timeout)


def create_pod(
    lab: Lab,
    pod: str,
    node: str,
    nad_name: str,
    config: Config,
    *,
    ifname: str = DEFAULT_IFNAME,
    cni_path: str = CNI_PATH,
    timeout: float = PLUGIN_TIMEOUT,
) -> PodAttachment:
    """Create the pod netns and run CNI ADD inside the node netns; on any failure undo everything."""
    validate_member(pod, "pod")
    validate_ifname(ifname, "ifname")
    conf = netconf.prepare(config, nad_name, lab.node_data_dir(node))
    ns = lab.pod_netns(pod)
    node_ns = lab.node_netns(node)
    if not netns.exists(node_ns):
        raise LabError([], None, "", reason=f"node netns {node_ns!r} does not exist; create node {node!r} first")
    if netns.exists(ns):
        raise LabError([], None, "", reason=f"pod netns {ns!r} already exists; delete pod {pod!r} first")
    netns.add(ns, lab.lab_id)
    try:
        netns.sysctl(ns, NO_DAD)
        att = _attachment(lab, pod, ifname)
        raw = invoke("ADD", conf["type"], conf, att, inside=node_ns, cni_path=cni_path, timeout=timeout)
        addrs = result.addresses(raw)
        mac = result.sandbox_mac(raw) or _mac(ns, ifname)
        return PodAttachment(pod, node, ns, ifname, att.container_id, addrs, mac, raw)
    except BaseException as exc:
        try:
            _release(lab, pod, node, conf, ifname, cni_path, timeout)
        except Exception as cleanup:  # the original failure is the one to report
            exc.add_note(f"cleanup after failed ADD also failed: {cleanup}")
        netns.delete(ns)
        raise


def delete_pod(
    lab: Lab,
    pod: str,
    node: str,
    nad_name: str,
    config: Config,
    *,
    ifname: str = DEFAULT_IFNAME,
    prev_result: Optional[Mapping[str, Any]] = None,
    cni_path: str = CNI_PATH,
    timeout: float = PLUGIN_TIMEOUT,
) -> None:
    """CNI DEL with the ADD config (prevResult from 0.4.0), then delete the pod netns; idempotent."""
    validate_member(pod, "pod")
    validate_ifname(ifname, "ifname")
    conf = netconf.prepare(config, nad_name, lab.node_data_dir(node), prev_result)
    try:
        _release(lab, pod, node, conf, ifname, cni_path, timeout)
    finally:
        # The netns goes even when DEL failed: a retried DEL is fine without it (spec: netns may be gone).
        netns.delete(lab.pod_netns(pod))
