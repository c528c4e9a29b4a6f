"""Typed settings from the stack config, validated in one pass.

Every problem is collected and reported together (key, bad value, what is allowed), so a
user fixes their config once instead of once per `pulumi up`. The parser takes a plain
mapping so it is testable without Pulumi; `load_settings` is the thin Pulumi shell.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from netaddr import AddrFormatError, IPAddress, IPNetwork, IPRange

from components import cni
from components.errors import ConfigError, ConfigProblem
from components.plan import FAMILIES, Family, NodeSpec, Plan, SubnetSpec, VERSION_OF, plan_ranges

PROJECT = "macvlan-testbed"
TARGETS = ("kubernetes", "lab")
IPERF_PROTOCOLS = ("tcp", "udp")
# Multi-arch image with ping (iputils), ip (iproute2) and iperf3; pinned by tag.
DEFAULT_IMAGE = "nicolaka/netshoot:v0.13"
DEFAULT_CONTAINER = "testbed"
MAX_NODES = 4096

T = TypeVar("T")


@dataclass(frozen=True)
class NodeSettings:
    """One node: where its pod runs, its NAD, and any hand-pinned ranges."""

    name: str
    pod: str
    nad: str
    ranges: tuple[IPRange, ...]
    key: str


@dataclass(frozen=True)
class CheckSettings:
    """How the connectivity checks run and what counts as passing."""

    enabled: bool = True
    ping_count: int = 3
    ping_deadline_seconds: int = 10
    iperf_seconds: int = 3
    iperf_streams: int = 1
    iperf_protocol: str = "tcp"
    iperf_udp_bitrate: str = "1G"
    max_loss_percent: float = 0.0
    min_gbps: float = 0.0
    path_proof_ratio: float = 0.9
    parallelism: int = 4
    fail_on_error: bool = True
    trigger: str = ""

    def to_data(self) -> dict[str, Any]:
        """The check provider's `settings` input (camelCase, JSON-able)."""
        return {
            "pingCount": self.ping_count,
            "pingDeadlineSeconds": self.ping_deadline_seconds,
            "iperfSeconds": self.iperf_seconds,
            "iperfStreams": self.iperf_streams,
            "iperfProtocol": self.iperf_protocol,
            "iperfUdpBitrate": self.iperf_udp_bitrate,
            "maxLossPercent": self.max_loss_percent,
            "minGbps": self.min_gbps,
            "pathProofRatio": self.path_proof_ratio,
            "parallelism": self.parallelism,
        }


@dataclass(frozen=True)
class Settings:
    """Everything the program needs, already validated."""

    nodes: tuple[NodeSettings, ...]
    master: str
    mode: str
    mtu: Optional[int]
    subnets: tuple[SubnetSpec, ...]
    range_size: int
    cni_version: str
    namespace: str
    image: str
    container: str
    target: str
    context: Optional[str]
    checks: CheckSettings
    render_yaml_dir: Optional[str]
    plan: Plan
    lab_id: str = "lab"
    """Prefix of every lab namespace (target lab): the stack name, made safe."""
    kubeconfig: Any = None
    """A secret Output (or None for the ambient kubeconfig); never a plain string in state."""

    @property
    def families(self) -> tuple[Family, ...]:
        return tuple(spec.family for spec in self.subnets)


# key -> (type shown to users, description); the single list of accepted keys.
KEYS: Mapping[str, str] = {
    "nodes": "list of node names or {name, ranges?, pod?, nad?} objects",
    "master": "host interface the macvlan children hang off",
    "mode": "macvlan mode",
    "mtu": "MTU of net1",
    "ipv4Subnet": "shared IPv4 subnet (CIDR)",
    "ipv6Subnet": "shared IPv6 subnet (CIDR)",
    "ipv4Gateway": "IPv4 gateway inside ipv4Subnet",
    "ipv6Gateway": "IPv6 gateway inside ipv6Subnet",
    "rangeSize": "addresses per node per family for automatic ranges",
    "cniVersion": "cniVersion of the NAD config",
    "namespace": "Kubernetes namespace of NADs and pods",
    "image": "test pod image (needs ping, ip, iperf3)",
    "container": "name of the test container to exec into",
    "target": "where to run",
    "kubeconfig": "kubeconfig contents or path (secret)",
    "context": "kubeconfig context",
    "checks": "connectivity check settings",
    "renderYamlToDirectory": "write manifests here instead of applying them",
}
CHECK_KEYS = (
    "enabled", "pingCount", "pingDeadlineSeconds", "iperfSeconds", "iperfStreams",
    "iperfProtocol", "iperfUdpBitrate", "maxLossPercent", "minGbps", "pathProofRatio",
    "parallelism", "failOnError", "trigger",
)
NODE_KEYS = ("name", "ranges", "pod", "nad")


class _Reader:
    """Reads typed values from raw config, recording problems instead of raising."""

    def __init__(self, raw: Mapping[str, Any], prefix: str = "") -> None:
        self.raw = raw
        self.prefix = prefix
        self.problems: list[ConfigProblem] = []

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(ConfigProblem(self.prefix + key, value, allowed))

    def _get(self, key: str, default: T, convert: Callable[[Any], T], allowed: str) -> T:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            return convert(value)
        except (TypeError, ValueError):
            self.problem(key, value, allowed)
            return default

    def string(self, key: str, default: Optional[str], choices: Sequence[str] = ()) -> Optional[str]:
        allowed = f"must be one of {', '.join(choices)}" if choices else "must be a string"
        value = self._get(key, default, _as_string, allowed)
        if choices and value is not None and value not in choices:
            self.problem(key, value, allowed)
            return default
        return value

    def integer(self, key: str, default: Optional[int], low: int, high: int) -> Optional[int]:
        allowed = f"must be an integer from {low} to {high}"
        value = self._get(key, default, _as_int, allowed)
        if value is not None and not low <= value <= high:
            self.problem(key, value, allowed)
            return default
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        allowed = f"must be a number from {low:g} to {high:g}"
        value = self._get(key, default, _as_float, allowed)
        if not low <= value <= high:
            self.problem(key, value, allowed)
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self._get(key, default, _as_bool, "must be true or false")

    def structured(self, key: str, default: Any) -> Any:
        """A list/object value; Pulumi hands these over as JSON text."""
        return self._get(key, default, _as_structure, "must be valid JSON/YAML structure")

    def unknown_keys(self, known: Sequence[str], what: str) -> None:
        for key in self.raw:
            if key not in known:
                self.problem(key, self.raw[key], f"is not a known {what} key; known keys: {', '.join(known)}")


def _as_string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip())
    raise TypeError(value)


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise TypeError(value)


def _as_structure(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def lab_id_for_stack(stack: str) -> str:
    """A lab id (at most 12 of [a-z0-9-]) from the stack name, so each stack gets its own lab."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", stack.lower()).strip("-")[:12].strip("-")
    return cleaned or "lab"


def parse_settings(raw: Mapping[str, Any], *, kubeconfig: Any = None, stack: str = "dev") -> Settings:
    """Validate raw config (keys without the project prefix); raise ConfigError listing every problem."""
    read = _Reader(raw)
    read.unknown_keys(tuple(KEYS), PROJECT)

    master = read.string("master", "ens16f0") or "ens16f0"
    reason = cni.interface_name_problem(master)
    if reason:
        read.problem("master", master, reason)
    mode = read.string("mode", "bridge", cni.MACVLAN_MODES) or "bridge"
    mtu = read.integer("mtu", None, 68, 65535)
    range_size = read.integer("rangeSize", 10, 1, 2**32) or 10
    target = read.string("target", "kubernetes", TARGETS) or "kubernetes"
    versions = cni.LAB_CNI_VERSIONS if target == "lab" else cni.CNI_VERSIONS
    cni_version = read.string("cniVersion", "1.0.0") or "1.0.0"
    if cni_version not in versions:
        note = " (the lab's Debian CNI plugins stop at 1.0.0)" if target == "lab" else ""
        read.problem("cniVersion", cni_version, f"must be one of {', '.join(versions)}{note}")
    namespace = read.string("namespace", "default") or "default"
    reason = cni.dns1123_label_problem(namespace)
    if reason:
        read.problem("namespace", namespace, reason)
    image = read.string("image", DEFAULT_IMAGE) or DEFAULT_IMAGE
    if not image.strip() or any(c.isspace() for c in image):
        read.problem("image", image, "must be an image reference without whitespace")
    container = read.string("container", DEFAULT_CONTAINER) or DEFAULT_CONTAINER
    reason = cni.dns1123_label_problem(container)
    if reason:
        read.problem("container", container, reason)
    context = read.string("context", None)
    render_dir = read.string("renderYamlToDirectory", None)
    if render_dir is not None and target != "kubernetes":
        read.problem("renderYamlToDirectory", render_dir, "only applies to target kubernetes")

    subnets = _read_subnets(read)
    nodes = _read_nodes(read, master)
    if target == "lab":
        _check_lab_names(read, nodes)
    checks = _read_checks(read)

    plan: Optional[Plan] = None
    # Plan whatever parsed cleanly, so range problems are reported alongside the rest.
    if subnets and nodes:
        try:
            plan = plan_ranges(
                [NodeSpec(n.name, n.ranges, n.key) for n in nodes], subnets, range_size)
        except ConfigError as error:
            read.problems.extend(error.problems)
    if read.problems or plan is None:
        raise ConfigError(read.problems)

    return Settings(
        nodes=tuple(nodes), master=master, mode=mode, mtu=mtu, subnets=tuple(subnets),
        range_size=range_size, cni_version=cni_version, namespace=namespace, image=image,
        container=container, target=target, context=context, checks=checks,
        render_yaml_dir=render_dir, plan=plan, lab_id=lab_id_for_stack(stack), kubeconfig=kubeconfig,
    )


def _check_lab_names(read: _Reader, nodes: Sequence[NodeSettings]) -> None:
    """Lab nodes and pods become namespace names, which are stricter than Kubernetes names."""
    from components.lab.names import validate_member  # pure: names only

    for node in nodes:
        for attribute in ("name", "pod"):
            value = getattr(node, attribute)
            try:
                validate_member(value, "node" if attribute == "name" else "pod")
            except ValueError as error:
                read.problem(f"{node.key}.{attribute}", value,
                             f"target lab needs namespace-safe names: {str(error).split(': ', 1)[-1]}")


def _read_subnets(read: _Reader) -> list[SubnetSpec]:
    """ipv4Subnet/ipv6Subnet with their gateways; at least one family is required."""
    specs = []
    for family in FAMILIES:
        key = f"{family}Subnet"
        text = read.string(key, None)
        gateway_text = read.string(f"{family}Gateway", None)
        if text is None:
            if gateway_text is not None:
                read.problem(f"{family}Gateway", gateway_text, f"needs {key} to be set")
            continue
        subnet = _parse_subnet(read, key, text, VERSION_OF[family])
        if subnet is None:
            continue
        gateway = None
        if gateway_text is not None:
            gateway = _parse_gateway(read, f"{family}Gateway", gateway_text, subnet)
        specs.append(SubnetSpec(family=family, subnet=subnet, gateway=gateway, key=key))
    if not specs and not any(p.key.endswith("Subnet") for p in read.problems):
        read.problem("ipv4Subnet/ipv6Subnet", None, "set at least one of ipv4Subnet and ipv6Subnet")
    return specs


def _parse_subnet(read: _Reader, key: str, text: str, version: int) -> Optional[IPNetwork]:
    allowed = f"must be an IPv{version} network in CIDR form without host bits, e.g. " + (
        "10.1.10.0/24" if version == 4 else "fd10::/64")
    if "/" not in text:
        read.problem(key, text, allowed)
        return None
    try:
        subnet = IPNetwork(text, version=version)
    except (AddrFormatError, ValueError, TypeError):
        read.problem(key, text, allowed)
        return None
    if subnet.ip != subnet.network:
        read.problem(key, text, f"has host bits set; the network is {subnet.cidr}")
        return None
    usable_prefix = 30 if version == 4 else 126
    if subnet.prefixlen > usable_prefix:
        read.problem(key, text, f"is too small: the prefix must be /{usable_prefix} or shorter")
        return None
    return subnet


def _parse_gateway(read: _Reader, key: str, text: str, subnet: IPNetwork) -> Optional[IPAddress]:
    try:
        gateway = IPAddress(text, version=subnet.version)
    except (AddrFormatError, ValueError, TypeError):
        read.problem(key, text, f"must be an IPv{subnet.version} address")
        return None
    if gateway not in subnet or int(gateway) == subnet.first or (
            subnet.version == 4 and int(gateway) == subnet.last):
        read.problem(key, text, f"must be a host address inside {subnet}")
        return None
    return gateway


def _read_nodes(read: _Reader, master: str) -> list[NodeSettings]:
    """Nodes in order, each a name or an object; names, pods and NADs must be unique."""
    raw_nodes = read.structured("nodes", None)
    if raw_nodes is None:
        read.problem("nodes", None, "must list at least one node, e.g. [w0, w1]")
        return []
    if not isinstance(raw_nodes, list) or not raw_nodes:
        read.problem("nodes", raw_nodes, "must be a non-empty list of node names or objects")
        return []
    if len(raw_nodes) > MAX_NODES:
        read.problem("nodes", f"<{len(raw_nodes)} nodes>", f"must list at most {MAX_NODES} nodes")
        return []
    nodes: list[NodeSettings] = []
    seen: dict[str, dict[str, str]] = {"name": {}, "pod": {}, "nad": {}}
    for index, item in enumerate(raw_nodes):
        key = f"nodes[{index}]"
        node = _read_node(read, key, item, master)
        if node is None:
            continue
        duplicate = False
        for attribute in ("name", "pod", "nad"):
            value = getattr(node, attribute)
            if value in seen[attribute]:
                read.problem(f"{key}.{attribute}", value,
                             f"must be unique; {seen[attribute][value]} has it already")
                duplicate = True
                break  # a repeated name repeats its default pod and NAD names too
            seen[attribute][value] = key
        if not duplicate:
            nodes.append(node)
    return nodes


def _read_node(read: _Reader, key: str, item: Any, master: str) -> Optional[NodeSettings]:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict):
        read.problem(key, item, "must be a node name or an object {name, ranges?, pod?, nad?}")
        return None
    node = _Reader(item, prefix=f"{key}.")
    node.unknown_keys(NODE_KEYS, "node")
    name = node.string("name", None)
    if name is None:
        node.problem("name", None, "every node needs a name (the Kubernetes node name)")
    elif cni.dns1123_subdomain_problem(name):
        node.problem("name", name, cni.dns1123_subdomain_problem(name) or "")
    name = name or ""
    pod = node.string("pod", None) or cni.default_pod_name(name)
    reason = cni.dns1123_subdomain_problem(pod)
    if reason and name:
        node.problem("pod", pod, reason)
    nad = node.string("nad", None) or cni.default_nad_name(name, master)
    reason = cni.dns1123_subdomain_problem(nad)
    if reason and name:
        node.problem("nad", nad, reason + " (set nodes[].nad to choose another name)")
    ranges = _read_ranges(node, item.get("ranges"))
    read.problems.extend(node.problems)
    if node.problems:
        return None
    return NodeSettings(name=name, pod=pod, nad=nad, ranges=ranges, key=key)


def _read_ranges(node: _Reader, raw: Any) -> tuple[IPRange, ...]:
    """``["<first>-<last>", ...]``; families may be mixed."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        node.problem("ranges", raw, 'must be a list like ["10.1.10.10-10.1.10.19", "fd10::10-fd10::19"]')
        return ()
    ranges = []
    for index, text in enumerate(raw):
        allowed = 'must be "<first>-<last>" with both addresses of one family, first <= last'
        if not isinstance(text, str) or text.count("-") != 1:
            node.problem(f"ranges[{index}]", text, allowed)
            continue
        first, last = (part.strip() for part in text.split("-"))
        try:
            start, end = IPAddress(first), IPAddress(last)
            if start.version != end.version or start > end:
                raise ValueError(text)
            ranges.append(IPRange(start, end))
        except (AddrFormatError, ValueError, TypeError):
            node.problem(f"ranges[{index}]", text, allowed)
    return tuple(ranges)


def read_check_settings(raw: Any, key: str = "checks") -> tuple[CheckSettings, list[ConfigProblem]]:
    """Check settings from their camelCase object, with every problem; shared by config and provider."""
    read = _Reader({key: raw if raw is not None else {}})
    settings = _read_checks(read, key)
    return settings, read.problems


def _read_checks(read: _Reader, key: str = "checks") -> CheckSettings:
    raw = read.structured(key, {})
    if not isinstance(raw, dict):
        read.problem(key, raw, f"must be an object with keys {', '.join(CHECK_KEYS)}")
        return CheckSettings()
    checks = _Reader(raw, prefix=f"{key}.")
    checks.unknown_keys(CHECK_KEYS, "checks")
    defaults = CheckSettings()
    settings = CheckSettings(
        enabled=checks.boolean("enabled", defaults.enabled),
        ping_count=checks.integer("pingCount", defaults.ping_count, 1, 1000) or defaults.ping_count,
        ping_deadline_seconds=checks.integer(
            "pingDeadlineSeconds", defaults.ping_deadline_seconds, 1, 600) or defaults.ping_deadline_seconds,
        iperf_seconds=checks.integer("iperfSeconds", defaults.iperf_seconds, 1, 600) or defaults.iperf_seconds,
        iperf_streams=checks.integer("iperfStreams", defaults.iperf_streams, 1, 128) or defaults.iperf_streams,
        iperf_protocol=checks.string("iperfProtocol", defaults.iperf_protocol, IPERF_PROTOCOLS)
        or defaults.iperf_protocol,
        iperf_udp_bitrate=checks.string("iperfUdpBitrate", defaults.iperf_udp_bitrate)
        or defaults.iperf_udp_bitrate,
        max_loss_percent=checks.number("maxLossPercent", defaults.max_loss_percent, 0, 100),
        min_gbps=checks.number("minGbps", defaults.min_gbps, 0, 10_000),
        path_proof_ratio=checks.number("pathProofRatio", defaults.path_proof_ratio, 0, 1),
        parallelism=checks.integer("parallelism", defaults.parallelism, 1, 64) or defaults.parallelism,
        fail_on_error=checks.boolean("failOnError", defaults.fail_on_error),
        trigger=str(raw.get("trigger", "")) if raw.get("trigger") is not None else "",
    )
    bitrate = settings.iperf_udp_bitrate
    if not (bitrate[:-1] if bitrate[-1:] in "KMGkmg" else bitrate).replace(".", "", 1).isdigit():
        checks.problem("iperfUdpBitrate", bitrate, "must be a bitrate like 500M, 1G or 100000")
    read.problems.extend(checks.problems)
    return settings


def stack_file_config(path: str) -> dict[str, Any]:
    """This project's keys of a Pulumi.<stack>.yaml, without the prefix (as the engine would pass them)."""
    import yaml

    with open(path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle) or {}
    prefix = PROJECT + ":"
    return {key[len(prefix):]: value for key, value in (document.get("config") or {}).items()
            if key.startswith(prefix)}


def project_config_from_pulumi() -> dict[str, Any]:
    """All of this project's config keys as the engine passed them (values are strings)."""
    from pulumi.runtime import config as runtime_config  # kept out of the pure import path

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    prefix = PROJECT + ":"
    return {key[len(prefix):]: value for key, value in merged.items() if key.startswith(prefix)}


def load_settings() -> Settings:
    """Settings from the running stack; a config mistake becomes one RunError, no traceback."""
    import pulumi

    raw = project_config_from_pulumi()
    raw.pop("kubeconfig", None)
    kubeconfig = pulumi.Config(PROJECT).get_secret("kubeconfig")
    try:
        return parse_settings(raw, kubeconfig=kubeconfig, stack=pulumi.get_stack())
    except ConfigError as error:
        raise pulumi.RunError(error.render()) from None
