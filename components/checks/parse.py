"""Parse what the in-pod tools print (ping, iperf3 -J, ip -j, sysfs, ifconfig, Multus status).

Pure: stdlib only, no pulumi, no kubernetes. Every parser takes the text a command
printed and returns a small frozen dataclass of plain values (str, int, float, tuples),
so results stay JSON-able for the check provider's outputs. Anything that is not the
expected output raises ParseError (or Iperf3Error) quoting an excerpt of the text.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, ParamSpec, Sequence, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")

EXCERPT_CHARS = 200
"""How much of the offending text an error message quotes: enough to recognise it."""


class ParseError(ValueError):
    """A tool's output was not in the shape its parser expects."""


class Iperf3Error(ParseError):
    """iperf3 reported an error of its own (its JSON "error" field)."""

    def __init__(self, error: str, partial: Optional[IperfResult] = None) -> None:
        self.error = error
        self.partial = partial
        super().__init__(f"iperf3 failed: {error!r}")


def _excerpt(text: str) -> str:
    """Cut the offending text to a readable length for an error message."""
    text = text.strip()
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[:EXCERPT_CHARS] + "..."


def _bad_values_are_parse_errors(what: str) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Turn a null or wrongly typed JSON value deep inside a document into a ParseError, not a traceback."""

    def decorate(parser: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(parser)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return parser(*args, **kwargs)
            except ParseError:
                raise
            except (TypeError, ValueError, AttributeError) as exc:
                text = str(args[0]) if args else ""
                raise ParseError(f"unexpected value in {what} output ({exc}): {_excerpt(text)!r}") from exc

        return wrapper

    return decorate


# --- ping -------------------------------------------------------------------


@dataclass(frozen=True)
class PingStats:
    """A ping run's summary: counts, loss and round-trip times (ms)."""

    transmitted: int
    received: int
    duplicates: int
    errors: int
    loss_percent: float
    rtt_min_ms: Optional[float]
    """None when nothing came back (100% loss): ping prints no rtt line then."""
    rtt_avg_ms: Optional[float]
    rtt_max_ms: Optional[float]
    rtt_mdev_ms: Optional[float]
    """None for busybox, whose rtt line has no deviation."""


_PING_SUMMARY = re.compile(r"^(?P<transmitted>\d+) packets transmitted, (?P<rest>.*)$", re.M)
# iputils: "3 received, +2 duplicates, +3 errors, 33.3333% packet loss, time 2029ms";
# busybox: "3 packets received, 2 duplicates, 0% packet loss" (BSD writes "+2 duplicates").
_PING_FIELDS: Mapping[str, re.Pattern[str]] = {
    "received": re.compile(r"^(\d+) (?:packets )?received$"),
    "duplicates": re.compile(r"^\+?(\d+) duplicates$"),
    "errors": re.compile(r"^\+?(\d+) errors$"),
    "loss_percent": re.compile(r"^(\d+(?:\.\d+)?)% packet loss$"),
}
# iputils "rtt min/avg/max/mdev = a/b/c/d ms[, pipe N][, ipg/ewma x/y ms]";
# busybox "round-trip min/avg/max = a/b/c ms".
_PING_RTT = re.compile(
    r"^(?:rtt|round-trip) min/avg/max(?:/(?:mdev|stddev|std-dev))? = "
    r"(?P<min>[\d.]+)/(?P<avg>[\d.]+)/(?P<max>[\d.]+)(?:/(?P<mdev>[\d.]+))? ms(?:, .*)?$",
    re.M,
)


def parse_ping(text: str) -> PingStats:
    """Read the summary of iputils or busybox ping, so loss and rtt can be judged."""
    text = text.replace("\r\n", "\n")  # `kubectl exec -t` hands back terminal line ends
    summaries = list(_PING_SUMMARY.finditer(text))
    if not summaries:
        raise ParseError(f"no ping summary line ('N packets transmitted, ...') in {_excerpt(text)!r}")
    summary = summaries[-1]  # an interim SIGQUIT summary may come first; the last one is final
    found: dict[str, str] = {}
    for part in summary.group("rest").split(", "):
        for name, pattern in _PING_FIELDS.items():
            match = pattern.match(part.strip())
            if match:
                found[name] = match.group(1)
    for required in ("received", "loss_percent"):
        if required not in found:
            raise ParseError(f"ping summary has no {required!r}: {_excerpt(summary.group(0))!r}")
    rtt = _PING_RTT.search(text, summary.end())

    def ms(name: str) -> Optional[float]:
        value = rtt.group(name) if rtt else None
        return float(value) if value is not None else None

    return PingStats(
        transmitted=int(summary.group("transmitted")),
        received=int(found["received"]),
        duplicates=int(found.get("duplicates", 0)),
        errors=int(found.get("errors", 0)),
        loss_percent=float(found["loss_percent"]),
        rtt_min_ms=ms("min"),
        rtt_avg_ms=ms("avg"),
        rtt_max_ms=ms("max"),
        rtt_mdev_ms=ms("mdev"),
    )


# --- iperf3 -J --------------------------------------------------------------


@dataclass(frozen=True)
class IperfResult:
    """An iperf3 run's end totals: throughput both ways, plus TCP or UDP specifics."""

    protocol: str
    """"TCP" or "UDP", as iperf3 names it in start.test_start.protocol."""
    sent_bps: float
    received_bps: float
    sent_bytes: int
    received_bytes: int
    num_streams: Optional[int] = None
    duration: Optional[float] = None
    """Requested test length in seconds (-t), not the measured one."""
    retransmits: Optional[int] = None
    """TCP only."""
    jitter_ms: Optional[float] = None
    """UDP only, like lost_packets, packets and lost_percent (from end.sum)."""
    lost_packets: Optional[int] = None
    packets: Optional[int] = None
    lost_percent: Optional[float] = None


def _load_json(text: str, what: str, opener: str) -> Any:
    """Decode the JSON document starting at a line opening with `opener`; lines before it are noise."""
    start = re.search(rf"^{re.escape(opener)}", text, re.M)
    if start is None:
        raise ParseError(f"no JSON (a line starting {opener!r}) in {what} output: {_excerpt(text)!r}")
    decoder = json.JSONDecoder()
    try:
        document, end = decoder.raw_decode(text, start.start())
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at {exc.pos}"
        raise ParseError(f"invalid JSON in {what} output ({problem}): {_excerpt(text)!r}") from exc
    if text[end:].strip():
        raise ParseError(f"text after the JSON in {what} output: {_excerpt(text[end:])!r}")
    return document


_MISSING = object()


def _get(document: Any, dotted: str) -> Any:
    """Walk a dotted key path; _MISSING where a key is absent."""
    node = document
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _path(document: Any, dotted: str, what: str) -> Any:
    """Walk a dotted key path, naming the missing key instead of a bare KeyError."""
    node = _get(document, dotted)
    if node is _MISSING:
        raise ParseError(f"{what} JSON has no {dotted!r}: {_excerpt(json.dumps(document))!r}")
    return node


def _optional(document: Any, dotted: str, convert: Callable[[Any], Any]) -> Any:
    """Like _path, but None for an absent key: for fields older versions or modes omit."""
    node = _get(document, dotted)
    return None if node is _MISSING else convert(node)


def _iperf3_totals(document: Mapping[str, Any]) -> IperfResult:
    """Pick the end totals out of a decoded iperf3 -J document."""
    what = "iperf3"
    protocol = str(_path(document, "start.test_start.protocol", what))
    end = _path(document, "end", what)
    if protocol == "UDP":
        # 3.12 has sum_sent/sum_received beside sum; older releases only sum.
        total = _path(end, "sum", what)
        sent = end.get("sum_sent", total)
        received = end.get("sum_received", total)
    else:
        sent = _path(end, "sum_sent", what)
        received = _path(end, "sum_received", what)
    udp = protocol == "UDP"
    return IperfResult(
        protocol=protocol,
        sent_bps=float(_path(sent, "bits_per_second", what)),
        received_bps=float(_path(received, "bits_per_second", what)),
        sent_bytes=int(_path(sent, "bytes", what)),
        received_bytes=int(_path(received, "bytes", what)),
        num_streams=_optional(document, "start.test_start.num_streams", int),
        duration=_optional(document, "start.test_start.duration", float),
        retransmits=None if udp else _optional(sent, "retransmits", int),
        jitter_ms=float(_path(total, "jitter_ms", what)) if udp else None,
        lost_packets=int(_path(total, "lost_packets", what)) if udp else None,
        packets=int(_path(total, "packets", what)) if udp else None,
        lost_percent=float(_path(total, "lost_percent", what)) if udp else None,
    )


@_bad_values_are_parse_errors("iperf3")
def parse_iperf3(text: str) -> IperfResult:
    """Read iperf3 -J totals; raise Iperf3Error when iperf3 itself reports a failure."""
    document = _load_json(text, "iperf3", "{")
    if "error" in document:
        # -J still prints the intervals and totals gathered before the failure.
        try:
            partial: Optional[IperfResult] = _iperf3_totals(document)
        except (ParseError, TypeError, ValueError, AttributeError):
            partial = None
        raise Iperf3Error(str(document["error"]), partial)
    return _iperf3_totals(document)


# --- ip -j addr / ip -j -s link ---------------------------------------------


@dataclass(frozen=True)
class InterfaceAddrs:
    """An interface's identity and the addresses it can use now, plus the IPv6 ones it cannot."""

    ifname: str
    mac: Optional[str]
    """Lower-case, as ip prints it; None when the tool shows no hardware address."""
    mtu: int
    operstate: str
    ipv4: tuple[str, ...]
    ipv6_global: tuple[str, ...]
    """Usable global-scope IPv6: neither link-local nor still tentative nor dadfailed."""
    ipv6_tentative: tuple[str, ...] = ()
    """Still in duplicate address detection: not usable yet."""
    ipv6_dadfailed: tuple[str, ...] = ()
    """DAD found another owner: a duplicate address, e.g. two nodes sharing a range."""


@dataclass(frozen=True)
class LinkStats:
    """An interface's byte and packet counters, to prove which link carried the traffic."""

    ifname: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int


def _find_link(text: str, ifname: str, what: str) -> Mapping[str, Any]:
    """Pick one interface out of ip's JSON list of links."""
    # A missing device leaves no JSON at all: ip prints only 'Device "net1" does not exist.'
    has_json = re.search(r"^\[", text, re.M) is not None
    links = _load_json(text, what, "[") if has_json else []
    for link in links:
        if isinstance(link, dict) and link.get("ifname") == ifname:
            return link
    names = [link.get("ifname") for link in links if isinstance(link, dict)]
    raise ParseError(f"interface {ifname!r} not in {what} output (interfaces: {names!r}): {_excerpt(text)!r}")


@_bad_values_are_parse_errors("ip -j addr")
def parse_ip_addr_json(text: str, ifname: str) -> InterfaceAddrs:
    """Read one interface's addresses from `ip -j addr`, separating unusable IPv6 ones."""
    what = "ip -j addr"
    link = _find_link(text, ifname, what)
    ipv4: list[str] = []
    ipv6_global: list[str] = []
    tentative: list[str] = []
    dadfailed: list[str] = []
    for info in link.get("addr_info", []):
        address = str(_path(info, "local", what))
        if info.get("family") == "inet":
            ipv4.append(address)
        elif info.get("family") == "inet6" and info.get("scope") == "global":
            if info.get("dadfailed"):
                dadfailed.append(address)
            elif info.get("tentative"):
                tentative.append(address)
            else:
                ipv6_global.append(address)
    return InterfaceAddrs(
        ifname=ifname,
        mac=link.get("address"),
        mtu=int(_path(link, "mtu", what)),
        operstate=str(_path(link, "operstate", what)),
        ipv4=tuple(ipv4),
        ipv6_global=tuple(ipv6_global),
        ipv6_tentative=tuple(tentative),
        ipv6_dadfailed=tuple(dadfailed),
    )


@_bad_values_are_parse_errors("ip -j -s link")
def parse_ip_stats_json(text: str, ifname: str) -> LinkStats:
    """Read one interface's counters from `ip -j -s link`."""
    what = "ip -j -s link"
    link = _find_link(text, ifname, what)
    stats = link.get("stats64", link.get("stats"))  # "stats" only from iproute2 without 64-bit counters
    if not isinstance(stats, dict):
        raise ParseError(f"no counters for {ifname!r} in {what} output (was -s given?): {_excerpt(text)!r}")
    return LinkStats(
        ifname=ifname,
        rx_bytes=int(_path(stats, "rx.bytes", what)),
        tx_bytes=int(_path(stats, "tx.bytes", what)),
        rx_packets=int(_path(stats, "rx.packets", what)),
        tx_packets=int(_path(stats, "tx.packets", what)),
    )


def parse_tx_bytes(text: str) -> int:
    """Read a sysfs counter (statistics/tx_bytes): the cheapest proof bytes left via net1."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()):
        raise ParseError(f"not a byte counter: {_excerpt(text)!r}")
    return int(value)


# --- busybox ifconfig -------------------------------------------------------


@dataclass(frozen=True)
class IfconfigInterface:
    """One interface as busybox ifconfig shows it: the same facts as ip gives, in one block."""

    addrs: InterfaceAddrs
    stats: LinkStats


_IFCONFIG_HEADER = re.compile(r"^(?P<ifname>\S+)\s+Link encap:.*?(?:HWaddr (?P<mac>[0-9A-Fa-f:]+))?\s*$")


def _ifconfig_blocks(text: str) -> dict[str, list[str]]:
    """Split ifconfig output into per-interface line lists; lines before the first header are noise."""
    blocks: dict[str, list[str]] = {}
    current: Optional[list[str]] = None
    for line in text.splitlines():
        header = _IFCONFIG_HEADER.match(line)
        if header:
            current = blocks.setdefault(header.group("ifname"), [])
            current.append(line)
        elif current is not None and line.startswith((" ", "\t")):
            current.append(line)
        elif not line.strip():
            current = None
    return blocks


def parse_busybox_ifconfig(text: str, ifname: str = "net1") -> IfconfigInterface:
    """Read busybox `ifconfig [net1]`, the seed's only view of addresses and TX bytes."""
    blocks = _ifconfig_blocks(text.replace("\r\n", "\n"))
    if ifname not in blocks:
        present = list(blocks)
        raise ParseError(f"interface {ifname!r} not in ifconfig output (interfaces: {present!r}): {_excerpt(text)!r}")
    block = "\n".join(blocks[ifname])

    def number(label: str) -> int:
        match = re.search(rf"{label}:(\d+)", block)
        if match is None:
            raise ParseError(f"no {label!r} for {ifname!r} in ifconfig output: {_excerpt(block)!r}")
        return int(match.group(1))

    header = _IFCONFIG_HEADER.match(blocks[ifname][0])
    mac = header.group("mac") if header else None
    flags = re.search(r"^\s+((?:[A-Z]+ )*[A-Z]+)\s+MTU:", block, re.M)
    running = flags is not None and {"UP", "RUNNING"} <= set(flags.group(1).split())
    return IfconfigInterface(
        addrs=InterfaceAddrs(
            ifname=ifname,
            mac=mac.lower() if mac else None,
            mtu=number("MTU"),
            operstate="UP" if running else "DOWN",
            ipv4=tuple(re.findall(r"inet addr:(\S+)", block)),
            ipv6_global=tuple(re.findall(r"inet6 addr: ?([0-9A-Fa-f:]+)(?:/\d+)? Scope:Global", block)),
        ),
        stats=LinkStats(
            ifname=ifname,
            rx_bytes=number("RX bytes"),
            tx_bytes=number("TX bytes"),
            rx_packets=number("RX packets"),
            tx_packets=number("TX packets"),
        ),
    )


# --- Multus network-status annotation ---------------------------------------

NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"


@dataclass(frozen=True)
class Dns:
    """DNS settings a CNI result handed to the pod (usually empty for macvlan)."""

    nameservers: tuple[str, ...] = ()
    domain: Optional[str] = None
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkStatus:
    """One attachment Multus reports on a pod: which network, which interface, what it got."""

    name: str
    """"<namespace>/<nad>" for NAD attachments; the default network's own name otherwise."""
    interface: Optional[str]
    ips: tuple[str, ...]
    mac: Optional[str]
    default: bool = False
    mtu: Optional[int] = None
    gateway: tuple[str, ...] = ()
    dns: Dns = Dns()


def _strings(value: Any, what: str) -> tuple[str, ...]:
    """A JSON list of strings as a tuple, or ParseError naming the field."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ParseError(f"{what} is not a list of strings: {value!r}")
    return tuple(value)


@_bad_values_are_parse_errors("network-status annotation")
def parse_network_status(annotation_json: str) -> list[NetworkStatus]:
    """Read Multus' network-status annotation: what CNI really gave each pod interface."""
    what = "network-status annotation"
    entries = _load_json(annotation_json, what, "[")
    statuses: list[NetworkStatus] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ParseError(f"{what} entry without a name: {_excerpt(json.dumps(entry))!r}")
        dns = entry.get("dns") or {}
        statuses.append(
            NetworkStatus(
                name=entry["name"],
                interface=entry.get("interface"),
                ips=_strings(entry.get("ips"), f"{what} ips"),
                mac=entry.get("mac"),
                default=bool(entry.get("default", False)),
                mtu=int(entry["mtu"]) if "mtu" in entry else None,
                gateway=_strings(entry.get("gateway"), f"{what} gateway"),
                dns=Dns(
                    nameservers=_strings(dns.get("nameservers"), f"{what} dns.nameservers"),
                    domain=dns.get("domain"),
                    search=_strings(dns.get("search"), f"{what} dns.search"),
                    options=_strings(dns.get("options"), f"{what} dns.options"),
                ),
            )
        )
    return statuses


def find_network_status(statuses: Sequence[NetworkStatus], interface: str) -> NetworkStatus:
    """Pick the attachment on one pod interface (net1), naming what exists when it is missing."""
    for status in statuses:
        if status.interface == interface:
            return status
    present = [status.interface for status in statuses]
    raise ParseError(f"no network-status entry for interface {interface!r} (interfaces: {present!r})")
