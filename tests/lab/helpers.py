"""Shared lab-test helpers: seed-shaped NAD configs, in-namespace ping, pod creation with cleanup."""

from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest

from components.lab.names import Lab
from components.lab.netns import exec_argv
from components.lab.pods import PodAttachment, create_pod, delete_pod
from components.lab.run import run

SEED_W0: Dict[str, Any] = {
    "cniVersion": "0.3.0",
    "type": "macvlan",
    "master": "ens16f0",
    "mode": "bridge",
    "ipam": {
        "type": "host-local",
        "ranges": [
            [{"subnet": "10.1.10.0/24", "rangeStart": "10.1.10.10", "rangeEnd": "10.1.10.19"}],
            [{"subnet": "fd10::/64", "rangeStart": "fd10::10", "rangeEnd": "fd10::19"}],
        ],
    },
}


def nad_config(block: int, cni_version: str = "0.3.0", master: str = "ens16f0", size: int = 10) -> Dict[str, Any]:
    """The seed's NAD config with range 10.1.10.<block*10>.. (and fd10::) of `size` addresses."""
    conf = copy.deepcopy(SEED_W0)
    conf["cniVersion"] = cni_version
    conf["master"] = master
    first, last = block * 10, block * 10 + size - 1
    v4, v6 = conf["ipam"]["ranges"]
    v4[0].update(rangeStart=f"10.1.10.{first}", rangeEnd=f"10.1.10.{last}")
    v6[0].update(rangeStart=f"fd10::{first}", rangeEnd=f"fd10::{last}")
    return conf


def nad_name(node: str, master: str = "ens16f0") -> str:
    """NAD names as the seed spells them."""
    return f"macvlan-{node}-{master}"


def attach(
    request: pytest.FixtureRequest, lab: Lab, pod: str, node: str, config: Dict[str, Any]
) -> PodAttachment:
    """create_pod with its delete registered before it runs, so a failing test still cleans up."""
    request.addfinalizer(lambda: delete_pod(lab, pod, node, nad_name(node), config))
    return create_pod(lab, pod, node, nad_name(node), config)


def ping(src: PodAttachment, target: str, count: int = 2) -> str:
    """In-pod ping over net1 only; raises LabError when no reply came back."""
    argv = ["ping", "-n", "-c", str(count), "-W", "1", "-i", "0.2", "-I", src.ifname, target]
    return run(exec_argv(src.netns, argv), timeout=10).stdout


def tx_bytes(att: PodAttachment) -> int:
    """Bytes sent on the pod's macvlan interface, to prove which path traffic took."""
    import json

    links = json.loads(run(["ip", "-j", "-s", "-n", att.netns, "link", "show", "dev", att.ifname]).stdout)
    return int(links[0]["stats64"]["tx"]["bytes"])


def ip_in_range(address: str, start: str, end: str) -> bool:
    """Whether a bare address lies in [start, end]."""
    from netaddr import IPAddress, IPRange

    return IPAddress(address) in IPRange(start, end)


def config_range(config: Dict[str, Any], family: int) -> List[str]:
    """[rangeStart, rangeEnd] of one family in a seed-shaped config."""
    block = config["ipam"]["ranges"][0 if family == 4 else 1][0]
    return [block["rangeStart"], block["rangeEnd"]]
