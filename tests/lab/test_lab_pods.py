"""Real macvlan + host-local in namespaces: per-node ranges, ping over net1, leaks after DEL."""

from __future__ import annotations

import itertools
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import pytest

from components.lab import netns
from components.lab.errors import LabError
from components.lab.leaks import find_leftovers
from components.lab.names import Lab
from components.lab.nodes import create_node, delete_node
from components.lab.pods import PodAttachment, create_pod, delete_pod
from components.lab.wire import create_wire, delete_wire
from tests.lab.conftest import MASTER, NodesFactory, random_lab_id
from tests.lab.helpers import attach, config_range, ip_in_range, nad_config, nad_name, ping, tx_bytes

pytestmark = [pytest.mark.lab, pytest.mark.timeout(60)]


@pytest.mark.parametrize("cni_version", ["0.3.0", "1.0.0"])
def test_each_pod_gets_an_address_in_its_nodes_range(
    lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest, cni_version: str
) -> None:
    make_nodes(["w0", "w1"])
    configs = {"w0": nad_config(1, cni_version), "w1": nad_config(2, cni_version)}
    pods = {node: attach(request, lab, f"alpine{i + 1}", node, configs[node]) for i, node in enumerate(configs)}
    for node, pod in pods.items():
        for family in (4, 6):
            (address,) = pod.ips(family)
            assert ip_in_range(address, *config_range(configs[node], family)), f"ipv{family}: {pod.pod} got {address}"
        assert pod.mac and pod.result["cniVersion"] == cni_version
        assert netns.links(pod.netns) == ["net1"]
    assert pods["w0"].ips(4) == ("10.1.10.10",) and pods["w1"].ips(4) == ("10.1.10.20",)


def test_pods_on_two_nodes_ping_over_net1_v4_and_v6(
    lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest
) -> None:
    wire = make_nodes(["w0", "w1"])
    assert wire.kind == "veth" and wire.switch_netns is None
    a = attach(request, lab, "alpine1", "w0", nad_config(1))
    b = attach(request, lab, "alpine2", "w1", nad_config(2))
    before = tx_bytes(a)
    for src, dst in ((a, b), (b, a)):
        for family in (4, 6):
            target = dst.ips(family)[0]
            assert " 0% packet loss" in ping(src, target), f"ping/ipv{family}: {src.pod} -> {dst.pod} ({target})"
    assert tx_bytes(a) > before


def test_negative_control_same_range_on_both_nodes_gives_the_same_address(
    lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest
) -> None:
    make_nodes(["w0", "w1"])
    a = attach(request, lab, "alpine1", "w0", nad_config(1))
    b = attach(request, lab, "alpine2", "w1", nad_config(1))
    assert a.addresses == b.addresses == ("10.1.10.10/24", "fd10::10/64")


def _ping_ok(src: PodAttachment, dst: PodAttachment, family: int) -> str:
    """'' when src reaches dst, else the check's name for the failure message."""
    target = dst.ips(family)[0]
    try:
        ping(src, target)
    except LabError as exc:
        return f"ping/ipv{family}: {src.pod} -> {dst.pod} ({target}): {exc}"
    return ""


def test_four_nodes_over_a_bridge_all_pairs_ping(
    lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest
) -> None:
    nodes = [f"w{i}" for i in range(4)]
    wire = make_nodes(nodes)
    assert wire.kind == "bridge" and netns.exists(wire.switch_netns or "")
    pods = [attach(request, lab, f"pod{i}", node, nad_config(i + 1)) for i, node in enumerate(nodes)]
    assert len({p.addresses for p in pods}) == 4
    pairs = list(itertools.permutations(pods, 2))
    with ThreadPoolExecutor(max_workers=8) as pool:
        failures = [f for f in pool.map(lambda args: _ping_ok(*args), [(s, d, fam) for s, d in pairs for fam in (4, 6)]) if f]
    assert failures == []


def test_wire_mtu_reaches_every_end(lab: Lab, make_nodes: NodesFactory) -> None:
    make_nodes(["w0", "w1", "w2"], mtu=1400)
    for ns in (lab.node_netns("w0"), lab.switch_netns):
        out = subprocess.run(["ip", "-n", ns, "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
        assert out.count("mtu 1400") == len(netns.links(ns))


def test_delete_leaves_no_netns_link_lease_or_process(lab: Lab) -> None:
    for node in ("w0", "w1"):
        create_node(lab, node)
    create_wire(lab, ["w0", "w1"], MASTER)
    a = create_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
    create_pod(lab, "alpine2", "w1", nad_name("w1"), nad_config(2))
    sleeper = subprocess.Popen(netns.exec_argv(a.netns, ["sleep", "60"]))
    try:
        assert find_leftovers(lab).processes[a.netns]
        delete_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
        delete_pod(lab, "alpine2", "w1", nad_name("w1"), nad_config(2))
        assert sleeper.wait(timeout=5) is not None
        left = find_leftovers(lab)
        assert left.leases == () and left.netns == (lab.node_netns("w0"), lab.node_netns("w1"))
        delete_wire(lab, ["w0", "w1"], MASTER)
        assert find_leftovers(lab).links == {lab.node_netns("w0"): (), lab.node_netns("w1"): ()}
        delete_wire(lab, ["w0", "w1"], MASTER)  # idempotent
        for node in ("w0", "w1"):
            delete_node(lab, node)
            delete_node(lab, node)  # idempotent
        assert not find_leftovers(lab), find_leftovers(lab).describe()
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait(timeout=5)


def test_delete_pod_is_idempotent_and_releases_the_lease_after_the_wire_is_gone(
    lab: Lab, make_nodes: NodesFactory
) -> None:
    make_nodes(["w0", "w1"])
    create_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
    assert len(find_leftovers(lab).leases) == 2
    delete_wire(lab, ["w0", "w1"], MASTER)  # macvlan's DEL now fails with "Link not found"
    delete_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
    delete_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
    left = find_leftovers(lab)
    assert left.leases == () and lab.pod_netns("alpine1") not in left.netns


@pytest.mark.stress
@pytest.mark.timeout(90)
def test_twenty_create_delete_cycles_leave_nothing(lab: Lab) -> None:
    nodes = ["w0", "w1"]
    for _ in range(20):
        for node in nodes:
            create_node(lab, node)
        create_wire(lab, nodes, MASTER)
        for i, node in enumerate(nodes):
            create_pod(lab, f"alpine{i + 1}", node, nad_name(node), nad_config(i + 1))
        for i, node in enumerate(nodes):
            delete_pod(lab, f"alpine{i + 1}", node, nad_name(node), nad_config(i + 1))
        delete_wire(lab, nodes, MASTER)
        for node in nodes:
            delete_node(lab, node)
        left = find_leftovers(lab)
        assert not left, left.describe()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (nad_config(1, master="nope0"), r"CNI ADD macvlan in netns '.*' failed: Link not found \(code 999\)"),
        (nad_config(1, cni_version="1.1.0"), r"failed: incompatible CNI versions: config is \"1.1.0\""),
    ],
    ids=["master-missing", "cni-version-1.1.0"],
)
def test_plugin_error_raises_with_the_plugins_message_and_leaves_nothing(
    lab: Lab, make_nodes: NodesFactory, config: dict, message: str
) -> None:
    make_nodes(["w0", "w1"])
    with pytest.raises(LabError, match=message) as info:
        create_pod(lab, "alpine1", "w0", nad_name("w0"), config)
    assert info.value.rc == 1 and info.value.cni_error is not None
    left = find_leftovers(lab)
    assert left.leases == () and left.netns == (lab.node_netns("w0"), lab.node_netns("w1"))


def test_exhausted_range_fails_the_second_pod_only(lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest) -> None:
    make_nodes(["w0", "w1"])
    one = nad_config(1, size=1)
    first = attach(request, lab, "alpine1", "w0", one)
    with pytest.raises(LabError, match="no IP addresses available"):
        create_pod(lab, "alpine2", "w0", nad_name("w0"), one)
    left = find_leftovers(lab)
    assert sorted(p.rsplit("/", 1)[1] for p in left.leases) == ["10.1.10.10", "fd10::10"]
    assert lab.pod_netns("alpine2") not in left.netns and first.netns in left.netns


def test_create_pod_refuses_a_missing_node_and_a_taken_name(lab: Lab, make_nodes: NodesFactory, request: pytest.FixtureRequest) -> None:
    with pytest.raises(LabError, match="node netns .* does not exist"):
        create_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))
    make_nodes(["w0", "w1"])
    attach(request, lab, "alpine1", "w0", nad_config(1))
    with pytest.raises(LabError, match="already exists"):
        create_pod(lab, "alpine1", "w0", nad_name("w0"), nad_config(1))


def test_create_wire_is_idempotent(lab: Lab, make_nodes: NodesFactory) -> None:
    first = make_nodes(["w0", "w1"])
    again = create_wire(lab, ["w0", "w1"], MASTER)
    assert first == again
    assert netns.links(lab.node_netns("w0")) == [MASTER]


def test_another_lab_sharing_the_prefix_is_not_listed(lab_host: None, tmp_path: Path) -> None:
    base = Lab(random_lab_id(), str(tmp_path / "a"))
    longer = Lab(base.lab_id + "-x", str(tmp_path / "b"))
    try:
        create_node(longer, "w0")  # netns name starts with base.prefix too
        assert longer.node_netns("w0").startswith(base.prefix)
        assert find_leftovers(base).netns == ()
        assert find_leftovers(longer).netns == (longer.node_netns("w0"),)
    finally:
        delete_node(longer, "w0")



@pytest.mark.parametrize("nodes", [["w0", "w1"], ["w0", "w1", "w2"]], ids=["veth", "bridge"])
def test_wire_failing_half_way_leaves_no_link(lab: Lab, nodes: list) -> None:
    for node in nodes[:-1]:  # the last node is missing, so its veth cannot be made
        create_node(lab, node)
    with pytest.raises(LabError, match="ip link add"):
        create_wire(lab, nodes, MASTER)
    left = find_leftovers(lab)
    assert left.netns == tuple(lab.node_netns(n) for n in nodes[:-1])
    assert all(links == () for links in left.links.values()), left.describe()
