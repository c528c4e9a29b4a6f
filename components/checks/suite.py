"""The connectivity checks: net1 addresses (in range, unique), ping v4/v6, iperf3, tx-bytes path proof, verdict.

Everything runs through an Executor (components/checks/executors.py), so the same suite
drives Kubernetes pods and the netns lab, and tests drive it with a scripted fake. The
result is plain JSON-able data; every failure is one self-contained line naming the check,
family, pods (and addresses) and why, e.g.
``ping/ipv6: alpine1 (fd10::12) -> alpine2 (fd10::22): 100% loss (3 sent, 0 received)``.
Nothing in here raises for a failed check: missing tools, exec errors and timeouts become
failures too.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from netaddr import AddrFormatError, IPAddress, IPRange

from components.checks.executors import EXIT_NOT_FOUND, ExecError, ExecResult, Executor
from components.checks.parse import (
    InterfaceAddrs,
    Iperf3Error,
    IperfResult,
    ParseError,
    PingStats,
    parse_ip_addr_json,
    parse_iperf3,
    parse_ping,
    parse_tx_bytes,
)
from components.settings import CheckSettings

FAMILIES = ("ipv4", "ipv6")
VERSION = {"ipv4": 4, "ipv6": 6}
IFNAME = "net1"
TX_BYTES_PATH = f"/sys/class/net/{IFNAME}/statistics/tx_bytes"
IPERF_PORT = 5201
# iperf3 and ping say "not found"/"No such file" when the shell or runtime could not find them.
_MISSING_WORDS = ("not found", "no such file or directory")

ProgressCallback = Callable[[Mapping[str, Any], int, int], None]
"""Called with (pair result, pairs done, pairs total) as each client -> server pair finishes."""


@dataclass(frozen=True)
class Tuning:
    """Bounds the suite keeps for itself (not user settings): retries, grace periods, margins."""

    exec_margin_seconds: float = 15.0
    """Added to a tool's own bound (ping -w, iperf3 -t) to give the exec a hard timeout."""
    quick_timeout_seconds: float = 20.0
    """Timeout of the cheap reads: ip -j addr, cat tx_bytes."""
    tentative_attempts: int = 6
    """Re-reads of net1 while IPv6 addresses are still tentative (DAD running)."""
    tentative_delay_seconds: float = 1.0
    iperf_connect_attempts: int = 5
    """Client attempts while the freshly started server is not listening yet."""
    iperf_retry_delay_seconds: float = 1.0
    iperf_server_start_seconds: float = 0.3
    """Head start the server gets before the first client attempt."""
    iperf_connect_timeout_ms: int = 3000
    """iperf3 --connect-timeout: bounds an attempt against an unreachable peer."""
    ping_reply_timeout_seconds: int = 2
    """ping -W."""
    ping_interval_seconds: float = 0.2
    """ping -i: the shortest interval iputils and busybox allow without root; 5x faster than the default."""
    iperf_server_grace_seconds: float = 2.0
    """How long a server may take to end after the client is done before the suite ends it."""

    @property
    def iperf_server_idle_seconds(self) -> int:
        """The server gives up (--idle-timeout) once the client's attempts are surely over."""
        per_attempt = self.iperf_connect_timeout_ms / 1000 + self.iperf_retry_delay_seconds
        return int(self.iperf_server_start_seconds + self.iperf_connect_attempts * per_attempt) + 5


# --- settings and endpoints ------------------------------------------------------


def settings_from_data(data: Optional[Mapping[str, Any]]) -> tuple[CheckSettings, list[str]]:
    """The provider's camelCase `settings` as CheckSettings, plus every problem (key, value, allowed).

    The rules and defaults are those of the stack config's `checks` object (components/settings.py),
    so a value the config accepts is one the provider accepts.
    """
    from components.settings import read_check_settings  # one home for the check settings' rules

    checks, problems = read_check_settings(data, key="settings")
    return checks, [str(problem) for problem in problems]


@dataclass(frozen=True)
class Pod:
    """One endpoint as the suite sees it: who, where, and the ranges its node may hand out."""

    name: str
    node: str
    namespace: str
    ranges: Mapping[str, tuple[IPRange, ...]]
    endpoint: Mapping[str, Any]
    """The raw endpoint mapping, handed to the executor as-is."""

    def label(self) -> str:
        return f"{self.name} ({self.node})"

    def describe_ranges(self, family: str) -> str:
        ranges = self.ranges.get(family, ())
        return ", ".join(f"{r[0]}-{r[-1]}" for r in ranges) or "none"


def parse_range(text: str, family: str) -> IPRange:
    """`first-last` (or a single address) as netaddr's IPRange; ValueError naming what is wrong."""
    if not isinstance(text, str):
        raise ValueError(f"range {text!r} is not a string like 10.1.10.10-10.1.10.19")
    first, _, last = text.partition("-")
    try:
        ip_range = IPRange(first.strip(), (last or first).strip())
    except (AddrFormatError, ValueError, TypeError) as exc:
        raise ValueError(f"range {text!r} is not first-last addresses ({exc})") from exc
    if ip_range.version != VERSION[family]:
        raise ValueError(f"range {text!r} is not an {family} range")
    return ip_range


def endpoint_problems(endpoints: Any, families: Sequence[str]) -> list[str]:
    """Everything wrong with the `endpoints` input, each line naming the endpoint, key and value."""
    if not isinstance(endpoints, (list, tuple)) or not endpoints:
        return [f"endpoints: got {endpoints!r}; must be a non-empty list of endpoint objects"]
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for index, endpoint in enumerate(endpoints):
        where = f"endpoints[{index}]"
        if not isinstance(endpoint, Mapping):
            problems.append(f"{where}: got {endpoint!r}; must be an object with pod, node, namespace, ranges")
            continue
        for key in ("pod", "node"):
            if not isinstance(endpoint.get(key), str) or not endpoint.get(key):
                problems.append(f"{where}.{key}: got {endpoint.get(key)!r}; must be a non-empty string")
        for key in ("namespace", "nad", "netns"):
            if endpoint.get(key) is not None and not isinstance(endpoint.get(key), str):
                problems.append(f"{where}.{key}: got {endpoint.get(key)!r}; must be a string")
        pod_key = (str(endpoint.get("namespace") or ""), str(endpoint.get("pod")))
        if pod_key in seen:
            problems.append(f"{where}.pod: got {endpoint.get('pod')!r}; already used by endpoints[{seen[pod_key]}]")
        seen.setdefault(pod_key, index)
        ranges = endpoint.get("ranges")
        if not isinstance(ranges, Mapping):
            problems.append(f"{where}.ranges: got {ranges!r}; must map each family to a list of first-last ranges")
            continue
        for family in families:
            texts = ranges.get(family)
            if not isinstance(texts, (list, tuple)) or not texts:
                problems.append(f"{where}.ranges.{family}: got {texts!r}; must be a non-empty list of ranges")
                continue
            for text in texts:
                try:
                    parse_range(text, family)
                except ValueError as exc:
                    problems.append(f"{where}.ranges.{family}: {exc}")
    return problems


def family_problems(families: Any) -> list[str]:
    """Everything wrong with the `families` input."""
    allowed = f"must be a non-empty list of {', '.join(FAMILIES)} without repeats"
    if not isinstance(families, (list, tuple)) or not families:
        return [f"families: got {families!r}; {allowed}"]
    if any(f not in FAMILIES for f in families) or len(set(families)) != len(families):
        return [f"families: got {list(families)!r}; {allowed}"]
    return []


def pods_from_endpoints(endpoints: Sequence[Mapping[str, Any]], families: Sequence[str]) -> list[Pod]:
    """Typed view of validated endpoints."""
    return [
        Pod(
            name=str(e["pod"]), node=str(e["node"]), namespace=str(e.get("namespace") or "default"),
            ranges={f: tuple(parse_range(t, f) for t in (e.get("ranges") or {}).get(f, ())) for f in families},
            endpoint=e,
        )
        for e in endpoints
    ]


# --- formatting ------------------------------------------------------------------------


def format_bytes(count: float) -> str:
    """Binary units as ifconfig prints them: 23126289711 -> '21.5 GiB'."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_gbps(bits_per_second: float) -> str:
    gbps = bits_per_second / 1e9
    return f"{gbps:.1f}" if gbps >= 1 else f"{gbps:.3f}"


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit] + "..."


def _missing(result: ExecResult, program: str) -> bool:
    """The program is not installed where it was run."""
    if result.rc == EXIT_NOT_FOUND:
        return True
    if result.rc in (None, 0):
        return False
    text = (result.stderr or "").lower()
    return program in text and any(word in text for word in _MISSING_WORDS) and "exec" in text


def not_installed(program: str, pod: Pod) -> str:
    return f"{program} is not installed in pod {pod.name}"


# --- the suite ----------------------------------------------------------------------------


@dataclass
class _Shared:
    """State shared by concurrent pair checks: which pods lack which tools (report once, skip after)."""

    missing: set[tuple[str, str]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark_missing(self, pod: Pod, program: str) -> None:
        with self.lock:
            self.missing.add((pod.name, program))

    def is_missing(self, pod: Pod, program: str) -> bool:
        with self.lock:
            return (pod.name, program) in self.missing


class Suite:
    """One run of the checks over a set of pods; `run()` returns the JSON-able results."""

    def __init__(self, pods: Sequence[Pod], families: Sequence[str], settings: CheckSettings,
                 executor: Executor, *, tuning: Tuning = Tuning(),
                 on_pair: Optional[ProgressCallback] = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.pods = list(pods)
        self.families = [f for f in FAMILIES if f in families]
        self.settings = settings
        self.executor = executor
        self.tuning = tuning
        self.on_pair = on_pair
        self.sleep = sleep
        self.shared = _Shared()

    # -- exec ------------------------------------------------------------------------------

    def _run(self, pod: Pod, argv: Sequence[str], timeout: float) -> ExecResult:
        """Run through the executor; anything it raises becomes an ExecError naming the pod."""
        try:
            return self.executor.run(pod.endpoint, list(argv), timeout)
        except ExecError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. a websocket dropped mid-exec
            raise ExecError(f"pod {pod.name}: {argv[0]!r} failed: {exc!r}") from exc

    # -- addresses -------------------------------------------------------------------------

    def read_addresses(self, pod: Pod) -> tuple[Optional[InterfaceAddrs], list[str]]:
        """net1's addresses from inside the pod, waiting (bounded) while IPv6 DAD is still running."""
        argv = ["ip", "-j", "addr", "show", "dev", IFNAME]
        where = f"addresses: {pod.label()}"
        timeout = self.tuning.quick_timeout_seconds
        for attempt in range(1, max(1, self.tuning.tentative_attempts) + 1):
            try:
                result = self._run(pod, argv, timeout)
            except ExecError as exc:
                return None, [f"{where}: cannot exec into the pod: {exc}"]
            if result.timed_out:
                return None, [f"{where}: `{' '.join(argv)}` timed out after {timeout:g}s"]
            if _missing(result, "ip"):
                return None, [f"{where}: {not_installed('ip', pod)} (needed to read {IFNAME})"]
            if f'"{IFNAME}" does not exist' in result.stderr + result.stdout:
                return None, [f"{where}: no {IFNAME} interface in the pod ({_excerpt(result.stderr or result.stdout)}):"
                              f" the macvlan attachment is missing"]
            try:
                addrs = parse_ip_addr_json(result.stdout, IFNAME)
            except ParseError as exc:
                detail = _excerpt(result.stderr) or str(exc)
                return None, [f"{where}: cannot read {IFNAME} addresses (rc {result.rc}): {detail}"]
            if "ipv6" in self.families and addrs.ipv6_tentative and attempt < self.tuning.tentative_attempts:
                self.sleep(self.tuning.tentative_delay_seconds)
                continue
            return addrs, []
        raise AssertionError("unreachable")  # pragma: no cover

    def judge_addresses(self, reads: Sequence[tuple[Optional[InterfaceAddrs], list[str]]]
                        ) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Optional[str]], list[str]]:
        """Per pod: addresses with in-range/unique verdicts; the address each pair check uses; failures."""
        failures: list[str] = []
        owners: dict[tuple[str, str], list[Pod]] = {}
        for pod, (addrs, _) in zip(self.pods, reads):
            if addrs is None:
                continue
            for family in self.families:
                for address in self._usable(addrs, family) + (addrs.ipv6_dadfailed if family == "ipv6" else ()):
                    owners.setdefault((family, address), []).append(pod)
        reported_duplicates: set[tuple[str, str]] = set()
        views: list[dict[str, Any]] = []
        chosen: dict[tuple[str, str], Optional[str]] = {}
        for pod, (addrs, read_failures) in zip(self.pods, reads):
            failures.extend(read_failures)
            view: dict[str, Any] = {
                "pod": pod.name, "node": pod.node, "namespace": pod.namespace,
                "ranges": {f: [f"{r[0]}-{r[-1]}" for r in pod.ranges.get(f, ())] for f in self.families},
                "interface": None, "addresses": {f: [] for f in self.families},
                "ipv6Tentative": [], "ipv6Dadfailed": [], "error": read_failures[0] if read_failures else None,
            }
            views.append(view)
            if addrs is None:
                for family in self.families:
                    chosen[(pod.name, family)] = None
                continue
            view["interface"] = {"name": addrs.ifname, "mac": addrs.mac, "mtu": addrs.mtu,
                                 "operstate": addrs.operstate}
            view["ipv6Tentative"] = list(addrs.ipv6_tentative)
            view["ipv6Dadfailed"] = list(addrs.ipv6_dadfailed)
            if addrs.operstate in ("DOWN", "LOWERLAYERDOWN", "NOTPRESENT"):
                failures.append(f"addresses: {pod.label()}: {IFNAME} is {addrs.operstate}")
            for address in addrs.ipv6_dadfailed:
                failures.append(
                    f"addresses/ipv6: {pod.label()}: {address} failed duplicate address detection:"
                    f" another interface on the link holds it")
            for family in self.families:
                usable = self._usable(addrs, family)
                entries = []
                for address in usable:
                    in_range = any(IPAddress(address) in r for r in pod.ranges.get(family, ()))
                    sharers = owners.get((family, address), [])
                    unique = len(sharers) <= 1
                    entries.append({"address": address, "inRange": in_range, "unique": unique})
                    if not in_range:
                        failures.append(
                            f"addresses/{family}: {pod.label()}: {address} is outside the node's planned"
                            f" range {pod.describe_ranges(family)}")
                    if not unique and (family, address) not in reported_duplicates:
                        reported_duplicates.add((family, address))
                        names = [p.label() for p in sharers]
                        holders = " and ".join([", ".join(names[:-1]), names[-1]])
                        both = "both " if len(names) == 2 else ""
                        failures.append(
                            f"addresses/{family}: {address} is on {both}{holders}: host-local never notices"
                            f" a duplicate across nodes; each node needs its own range")
                view["addresses"][family] = entries
                if not usable:
                    detail = ""
                    if family == "ipv6" and addrs.ipv6_tentative:
                        detail = f" (still tentative: {', '.join(addrs.ipv6_tentative)})"
                    elif family == "ipv6" and addrs.ipv6_dadfailed:
                        detail = f" (dadfailed: {', '.join(addrs.ipv6_dadfailed)})"
                    failures.append(f"addresses/{family}: {pod.label()}: no {family} address on {IFNAME}{detail}")
                in_range_first = [e["address"] for e in entries if e["inRange"]]
                chosen[(pod.name, family)] = (in_range_first or usable or [None])[0]
        return views, chosen, failures

    @staticmethod
    def _usable(addrs: InterfaceAddrs, family: str) -> tuple[str, ...]:
        return addrs.ipv4 if family == "ipv4" else addrs.ipv6_global

    # -- one pair, one family ----------------------------------------------------------------

    def check_pair(self, client: Pod, server: Pod, chosen: Mapping[tuple[str, str], Optional[str]]
                   ) -> list[dict[str, Any]]:
        """Every family for client -> server; never raises."""
        results = []
        for family in self.families:
            client_address = chosen.get((client.name, family))
            server_address = chosen.get((server.name, family))
            result: dict[str, Any] = {
                "client": client.name, "server": server.name, "clientNode": client.node,
                "serverNode": server.node, "family": family, "clientAddress": client_address,
                "serverAddress": server_address, "ping": None, "iperf3": None, "txBytes": None,
                "failures": [],
            }
            try:
                self._check_family(client, server, family, result)
            except Exception as exc:  # noqa: BLE001 - a bug must still read as a named failure
                result["failures"].append(
                    f"{family}: {client.name} -> {server.name}: internal error in the check: {exc!r}")
            result["passed"] = not result["failures"]
            result["summary"] = summary_line(result)
            results.append(result)
        return results

    def _label(self, check: str, result: Mapping[str, Any]) -> str:
        return (f"{check}/{result['family']}: {result['client']} ({result['clientAddress'] or 'no address'})"
                f" -> {result['server']} ({result['serverAddress'] or 'no address'})")

    def _check_family(self, client: Pod, server: Pod, family: str, result: dict[str, Any]) -> None:
        failures: list[str] = result["failures"]
        if not result["clientAddress"] or not result["serverAddress"]:
            lacking = [p for p, key in ((client, "clientAddress"), (server, "serverAddress")) if not result[key]]
            names = " and ".join(p.name for p in lacking)
            failures.append(f"{self._label('pair', result)}: not checked: no usable {family} address"
                            f" on {IFNAME} of {names}")
            return
        ping = self._ping(client, family, result)
        if ping is not None and ping.received == 0:
            result["iperf3"] = {"skipped": "no ping reply"}
            return
        self._iperf3(client, server, family, result)

    def _ping(self, client: Pod, family: str, result: dict[str, Any]) -> Optional[PingStats]:
        s = self.settings
        label = self._label("ping", result)
        if self.shared.is_missing(client, "ping"):
            result["failures"].append(not_installed("ping", client))
            return None
        reply_timeout = max(1, min(self.tuning.ping_reply_timeout_seconds, s.ping_deadline_seconds))
        argv = ["ping", f"-{VERSION[family]}", "-c", str(s.ping_count), "-i", f"{self.tuning.ping_interval_seconds:g}",
                "-W", str(reply_timeout),
                "-w", str(s.ping_deadline_seconds), result["serverAddress"]]
        timeout = s.ping_deadline_seconds + self.tuning.exec_margin_seconds
        try:
            run = self._run(client, argv, timeout)
        except ExecError as exc:
            result["failures"].append(f"{label}: cannot exec ping: {exc}")
            return None
        if run.timed_out:
            result["failures"].append(f"{label}: ping timed out after {timeout:g}s (deadline -w {s.ping_deadline_seconds})")
            return None
        if _missing(run, "ping"):
            self.shared.mark_missing(client, "ping")
            result["failures"].append(not_installed("ping", client))
            return None
        try:
            stats = parse_ping(run.stdout)
        except ParseError:
            result["failures"].append(
                f"{label}: ping failed (rc {run.rc}): {_excerpt(run.stderr or run.stdout) or 'no output'}")
            return None
        result["ping"] = {
            "transmitted": stats.transmitted, "received": stats.received, "duplicates": stats.duplicates,
            "errors": stats.errors, "lossPercent": stats.loss_percent, "rttMinMs": stats.rtt_min_ms,
            "rttAvgMs": stats.rtt_avg_ms, "rttMaxMs": stats.rtt_max_ms, "rttMdevMs": stats.rtt_mdev_ms,
        }
        if stats.loss_percent > s.max_loss_percent:
            allowed = f", allowed {s.max_loss_percent:g}%" if s.max_loss_percent else ""
            result["failures"].append(
                f"{label}: {stats.loss_percent:g}% loss ({stats.transmitted} sent, {stats.received} received{allowed})")
        return stats

    def _tx_bytes(self, client: Pod, label: str, failures: list[str]) -> Optional[int]:
        timeout = self.tuning.quick_timeout_seconds
        try:
            run = self._run(client, ["cat", TX_BYTES_PATH], timeout)
        except ExecError as exc:
            failures.append(f"{label}: cannot read {TX_BYTES_PATH}: {exc}")
            return None
        if run.timed_out:
            failures.append(f"{label}: reading {TX_BYTES_PATH} timed out after {timeout:g}s")
            return None
        try:
            return parse_tx_bytes(run.stdout)
        except ParseError:
            failures.append(f"{label}: cannot read {TX_BYTES_PATH} (rc {run.rc}):"
                            f" {_excerpt(run.stderr or run.stdout) or 'no output'}")
            return None

    def _iperf3(self, client: Pod, server: Pod, family: str, result: dict[str, Any]) -> None:
        s, t = self.settings, self.tuning
        failures: list[str] = result["failures"]
        label = self._label("iperf3", result)
        for pod in (client, server):
            if self.shared.is_missing(pod, "iperf3"):
                failures.append(not_installed("iperf3", pod))
                return
        path_label = self._label("path", result)
        before = self._tx_bytes(client, path_label, failures)

        idle = t.iperf_server_idle_seconds
        server_argv = ["iperf3", "-s", "-1", "-p", str(IPERF_PORT), "--idle-timeout", str(idle)]
        server_timeout = idle + s.iperf_seconds + t.exec_margin_seconds
        server_box: dict[str, Any] = {}
        server_done = threading.Event()

        def serve() -> None:
            try:
                server_box["result"] = self._run(server, server_argv, server_timeout)
            except ExecError as exc:
                server_box["error"] = exc
            finally:
                server_done.set()

        thread = threading.Thread(target=serve, name=f"iperf3-server-{server.name}", daemon=True)
        thread.start()
        try:
            outcome, problem = self._iperf3_client(client, result, label, server_done)
        finally:
            # The server ends by itself after its one test (-1). When the client never reached it,
            # a loopback test from inside its own pod ends it now rather than at --idle-timeout;
            # either way the next check on this pod must not meet a stale server.
            if not server_done.wait(t.iperf_server_grace_seconds):
                self._end_server(server)
            server_done.wait(server_timeout + t.exec_margin_seconds)
        server_problem = self._server_problem(server, server_box, label, server_done.is_set(), server_timeout)
        if problem is not None:
            # A server that could not start explains the client's "connection refused" better.
            failures.append(server_problem if server_problem and outcome is None else problem)
            return
        assert outcome is not None
        after = self._tx_bytes(client, path_label, failures)
        self._judge_iperf3(client, outcome, before, after, result)

    def _end_server(self, server: Pod) -> None:
        """Hand the waiting one-off server a tiny test over the pod's own loopback; best effort."""
        argv = ["iperf3", "-c", "127.0.0.1", "-p", str(IPERF_PORT), "-n", "1K",
                "--connect-timeout", str(self.tuning.iperf_connect_timeout_ms)]
        try:
            self._run(server, argv, self.tuning.quick_timeout_seconds)
        except ExecError:
            pass  # the server still ends at --idle-timeout

    def _iperf3_client(self, client: Pod, result: dict[str, Any], label: str, server_done: threading.Event
                       ) -> tuple[Optional[IperfResult], Optional[str]]:
        """Run the client, retrying (bounded) while the fresh server is not listening yet."""
        s, t = self.settings, self.tuning
        self.sleep(t.iperf_server_start_seconds)
        client_argv = ["iperf3", "-c", result["serverAddress"], "-p", str(IPERF_PORT), "-J",
                       "-t", str(s.iperf_seconds), "-P", str(s.iperf_streams),
                       "--connect-timeout", str(t.iperf_connect_timeout_ms)]
        if s.iperf_protocol == "udp":
            client_argv += ["-u", "-b", s.iperf_udp_bitrate]
        client_timeout = s.iperf_seconds + t.iperf_connect_timeout_ms / 1000 + t.exec_margin_seconds
        outcome: Optional[IperfResult] = None
        problem: Optional[str] = None
        attempts = max(1, t.iperf_connect_attempts)
        for attempt in range(1, attempts + 1):
            try:
                run = self._run(client, client_argv, client_timeout)
            except ExecError as exc:
                problem = f"{label}: cannot exec iperf3: {exc}"
                break
            if run.timed_out:
                problem = f"{label}: iperf3 client timed out after {client_timeout:g}s"
                break
            if _missing(run, "iperf3"):
                self.shared.mark_missing(client, "iperf3")
                problem = not_installed("iperf3", client)
                break
            try:
                outcome = parse_iperf3(run.stdout)
                problem = None
                break
            except Iperf3Error as exc:
                problem = f"{label}: iperf3 error: {exc.error}"
                refused = any(w in exc.error.lower() for w in ("connection refused", "unable to connect"))
                if refused and attempt < attempts and not server_done.is_set():
                    self.sleep(t.iperf_retry_delay_seconds)
                    continue
                break
            except ParseError:
                problem = (f"{label}: iperf3 failed (rc {run.rc}):"
                           f" {_excerpt(run.stderr or run.stdout) or 'no output'}")
                break
        return outcome, problem

    def _judge_iperf3(self, client: Pod, outcome: IperfResult, before: Optional[int], after: Optional[int],
                      result: dict[str, Any]) -> None:
        """Record iperf3's totals and the tx-bytes delta; fail on throughput and the path proof."""
        s = self.settings
        failures: list[str] = result["failures"]
        label, path_label = self._label("iperf3", result), self._label("path", result)
        view: dict[str, Any] = {
            "protocol": outcome.protocol, "streams": outcome.num_streams, "seconds": outcome.duration,
            "senderGbps": outcome.sent_bps / 1e9, "receiverGbps": outcome.received_bps / 1e9,
            "sentBytes": outcome.sent_bytes, "receivedBytes": outcome.received_bytes,
            "retransmits": outcome.retransmits,
        }
        if outcome.protocol == "UDP":
            view.update({"jitterMs": outcome.jitter_ms, "lostPackets": outcome.lost_packets,
                         "packets": outcome.packets, "lostPercent": outcome.lost_percent})
        result["iperf3"] = view
        if s.min_gbps and outcome.received_bps / 1e9 < s.min_gbps:
            failures.append(f"{label}: {format_gbps(outcome.received_bps)} Gbit/s received,"
                            f" below the minimum {s.min_gbps:g} Gbit/s")
        if before is not None and after is not None:
            delta = after - before
            ratio = delta / outcome.sent_bytes if outcome.sent_bytes else 0.0
            result["txBytes"] = {"before": before, "after": after, "delta": delta, "ratio": ratio}
            if ratio < s.path_proof_ratio:
                failures.append(
                    f"{path_label}: {IFNAME} tx_bytes of {client.name} grew by {delta} ({format_bytes(delta)})"
                    f" while iperf3 sent {outcome.sent_bytes} ({format_bytes(outcome.sent_bytes)}):"
                    f" {ratio:.0%} < {s.path_proof_ratio:.0%}, so the traffic did not take {IFNAME}")

    def _server_problem(self, server: Pod, box: Mapping[str, Any], label: str, finished: bool,
                        timeout: float) -> Optional[str]:
        if not finished:
            return f"{label}: iperf3 server in {server.name} did not end within {timeout:g}s"
        if "error" in box:
            return f"{label}: cannot start the iperf3 server in {server.name}: {box['error']}"
        run: ExecResult = box["result"]
        if _missing(run, "iperf3"):
            self.shared.mark_missing(server, "iperf3")
            return not_installed("iperf3", server)
        if run.timed_out:
            return f"{label}: iperf3 server in {server.name} timed out after {timeout:g}s"
        if run.rc not in (0, None):
            return f"{label}: iperf3 server in {server.name} failed (rc {run.rc}): {_excerpt(run.stderr or run.stdout)}"
        return None

    # -- scheduling ------------------------------------------------------------------------------

    def pairs(self) -> list[tuple[Pod, Pod]]:
        return [(a, b) for a in self.pods for b in self.pods if a is not b]

    def run(self) -> dict[str, Any]:
        """Addresses first, then every ordered pair; pairs sharing a pod never run at the same time."""
        parallelism = max(1, self.settings.parallelism)
        with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="check") as pool:
            reads = list(pool.map(self._safe_read, self.pods))
            pod_views, chosen, address_failures = self.judge_addresses(reads)
            pair_results = self._run_pairs(pool, parallelism, chosen)
        checks = [r for pair in self.pairs() for r in pair_results[(pair[0].name, pair[1].name)]]
        failures = _unique(address_failures + [f for r in checks for f in r["failures"]])
        lines = [r["summary"] for r in checks] + [f"FAIL {f}" for f in failures]
        return {
            "passed": not failures, "failures": failures, "families": list(self.families),
            "pods": pod_views, "checks": checks, "summary": lines,
        }

    def _safe_read(self, pod: Pod) -> tuple[Optional[InterfaceAddrs], list[str]]:
        try:
            return self.read_addresses(pod)
        except Exception as exc:  # noqa: BLE001 - a bug must still read as a named failure
            return None, [f"addresses: {pod.label()}: internal error: {exc!r}"]

    def _run_pairs(self, pool: ThreadPoolExecutor, parallelism: int,
                   chosen: Mapping[tuple[str, str], Optional[str]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        pending = self.pairs()
        total = len(pending)
        busy: set[str] = set()
        running: dict[Future[list[dict[str, Any]]], tuple[Pod, Pod]] = {}
        done: dict[tuple[str, str], list[dict[str, Any]]] = {}
        while pending or running:
            for pair in list(pending):
                if len(running) >= parallelism:
                    break
                client, server = pair
                if client.name in busy or server.name in busy:
                    continue
                pending.remove(pair)
                busy.update((client.name, server.name))
                running[pool.submit(self.check_pair, client, server, chosen)] = pair
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                client, server = running.pop(future)
                busy.difference_update((client.name, server.name))
                done[(client.name, server.name)] = future.result()  # check_pair never raises
                if self.on_pair is not None:
                    self.on_pair(pair_progress(done[(client.name, server.name)]), len(done), total)
        return done


def _unique(lines: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [line for line in lines if not (line in seen or seen.add(line))]


def pair_progress(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What a progress line needs about one finished client -> server pair."""
    first = results[0]
    return {"client": first["client"], "server": first["server"],
            "families": {r["family"]: r["passed"] for r in results},
            "failures": [f for r in results for f in r["failures"]]}


def progress_line(pair: Mapping[str, Any], done: int, total: int) -> str:
    """One log line per finished pair: `[1/2] alpine1 -> alpine2: ipv4 ok, ipv6 FAILED`."""
    verdicts = ", ".join(f"{family} {'ok' if ok else 'FAILED'}" for family, ok in pair["families"].items())
    return f"[{done}/{total}] {pair['client']} -> {pair['server']}: {verdicts}"


def summary_line(result: Mapping[str, Any]) -> str:
    """`alpine1 -> alpine2 ipv6: ping 0% loss rtt 0.155/0.377/0.818 ms; iperf3 18.5 Gbit/s, 614 retr; net1 +21.5 GiB`."""
    parts = []
    ping = result.get("ping")
    if ping:
        text = f"ping {ping['lossPercent']:g}% loss"
        if ping.get("rttMinMs") is not None:
            text += f" rtt {ping['rttMinMs']:g}/{ping['rttAvgMs']:g}/{ping['rttMaxMs']:g} ms"
        parts.append(text)
    else:
        parts.append("ping not measured")
    iperf = result.get("iperf3")
    if iperf and "receiverGbps" in iperf:
        text = f"iperf3 {format_gbps(iperf['receiverGbps'] * 1e9)} Gbit/s"
        if iperf.get("protocol") == "UDP":
            text += f", jitter {iperf['jitterMs']:g} ms, {iperf['lostPercent']:g}% lost"
        elif iperf.get("retransmits") is not None:
            text += f", {iperf['retransmits']} retr"
        parts.append(text)
    else:
        reason = iperf.get("skipped") if isinstance(iperf, Mapping) else None
        parts.append(f"iperf3 not run ({reason})" if reason else "iperf3 not measured")
    tx = result.get("txBytes")
    if tx:
        parts.append(f"{IFNAME} +{format_bytes(tx['delta'])}")
    line = f"{result['client']} -> {result['server']} {result['family']}: " + "; ".join(parts)
    failures = result.get("failures") or []
    if failures:
        line += f" [FAILED: {len(failures)} problem{'s' if len(failures) != 1 else ''}]"
    return line


def run_suite(endpoints: Sequence[Mapping[str, Any]], families: Sequence[str],
              settings: CheckSettings | Mapping[str, Any], executor: Executor, *,
              on_pair: Optional[ProgressCallback] = None, tuning: Tuning = Tuning(),
              sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Run every check and return the results (see Suite.run); ValueError for invalid inputs.

    endpoints: [{"pod", "node", "namespace", "ranges": {"ipv4": ["a-b"], ...}, "netns"?}];
    families: a subset of ("ipv4", "ipv6"); settings: CheckSettings or its camelCase data.
    """
    if not isinstance(settings, CheckSettings):
        settings, problems = settings_from_data(settings)
    else:
        problems = []
    problems = family_problems(families) + endpoint_problems(endpoints, families) + problems
    if problems:
        raise ValueError("invalid check inputs: " + "; ".join(problems))
    pods = pods_from_endpoints(endpoints, families)
    return Suite(pods, families, settings, executor, tuning=tuning, on_pair=on_pair, sleep=sleep).run()
