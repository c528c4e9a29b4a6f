"""Render the macvlan + host-local NAD config, names and pod annotations (pure).

The same config dict goes into the cluster's NetworkAttachmentDefinition and, in the
lab, to the real CNI plugins: one renderer, two targets.
"""
from __future__ import annotations

import json
import re
from typing import Any, Mapping, Optional, Sequence

from netaddr import IPRange

from components.plan import FamilyPlan

MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
# Versions Multus and the reference plugins speak; 1.1.0 is Multus-only (see LAB_CNI_VERSIONS).
CNI_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
# Debian's containernetworking-plugins 1.1.1 stop at 1.0.0 (measured on these machines).
LAB_CNI_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0")
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
NAD_API_VERSION = "k8s.cni.cncf.io/v1"
NAD_KIND = "NetworkAttachmentDefinition"
POD_INTERFACE = "net1"

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns1123_subdomain_problem(name: str) -> Optional[str]:
    """Why `name` is not a valid Kubernetes object name, or None."""
    if not name or len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name):
        return ("must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                "starting and ending with a letter or digit, at most 253 characters")
    return None


def dns1123_label_problem(name: str) -> Optional[str]:
    """Why `name` is not a valid DNS-1123 label (namespaces), or None."""
    if not name or len(name) > 63 or not _DNS1123_LABEL.match(name):
        return ("must be a DNS-1123 label: lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters")
    return None


def interface_name_problem(name: str) -> Optional[str]:
    """Why `name` cannot be a Linux interface name (kernel dev_valid_name), or None."""
    if not name or len(name) > 15:
        return "must be a Linux interface name of 1 to 15 characters"
    if name in (".", "..") or any(c in name for c in "/:") or any(c.isspace() for c in name):
        return "must be a Linux interface name without '/', ':' or whitespace, and not '.' or '..'"
    return None


def default_nad_name(node: str, master: str) -> str:
    """The seed's naming: one NAD per node and master, e.g. ``macvlan-w0-ens16f0``."""
    return f"macvlan-{node}-{master}"


def default_pod_name(node: str) -> str:
    """A pod name that says what it is for and where it runs."""
    return f"macvlan-test-{node}"


def _range_object(ip_range: IPRange, plan: FamilyPlan) -> dict[str, str]:
    entry = {
        "subnet": str(plan.subnet),
        "rangeStart": str(ip_range[0]),
        "rangeEnd": str(ip_range[-1]),
    }
    if plan.gateway_explicit:
        entry["gateway"] = str(plan.gateway)
    return entry


def render_nad_config(
    *,
    node: str,
    families: Sequence[FamilyPlan],
    master: str,
    mode: str,
    cni_version: str,
    mtu: Optional[int] = None,
) -> dict[str, Any]:
    """The NAD ``spec.config`` for one node: macvlan on `master`, host-local, one range set per family."""
    config: dict[str, Any] = {
        "cniVersion": cni_version,
        "type": "macvlan",
        "master": master,
        "mode": mode,
    }
    if mtu is not None:
        config["mtu"] = mtu
    config["ipam"] = {
        "type": "host-local",
        "ranges": [[_range_object(r, plan) for r in plan.ranges[node]] for plan in families],
    }
    return config


def config_json(config: Mapping[str, Any]) -> str:
    """Stable JSON text, so an unchanged plan never shows a diff in ``pulumi preview``."""
    return json.dumps(config, separators=(", ", ": "))


def networks_annotation(nad_name: str, namespace: str, interface: str = POD_INTERFACE) -> str:
    """The JSON form of ``k8s.v1.cni.cncf.io/networks``, naming the interface explicitly."""
    return json.dumps([{"name": nad_name, "namespace": namespace, "interface": interface}])
