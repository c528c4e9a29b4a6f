"""The connectivity suite against a scripted fake executor that answers with real tool outputs."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import pytest

from components.checks.executors import EXIT_NOT_FOUND, ExecError, ExecResult
from components.checks.suite import (
    Tuning,
    endpoint_problems,
    family_problems,
    format_bytes,
    progress_line,
    run_suite,
    settings_from_data,
    summary_line,
)
from components.settings import CheckSettings

TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
ROOT = Path(__file__).resolve().parents[2]
FAST = Tuning(tentative_delay_seconds=0, iperf_retry_delay_seconds=0, iperf_server_start_seconds=0,
              iperf_server_grace_seconds=0.5)
REFUSED = (TESTDATA / "iperf3-error-refused.json").read_text()
K8S_MISSING = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "iperf3":'
               ' executable file not found in $PATH: unknown')


def fixture(name: str) -> str:
    return (TESTDATA / name).read_text()


def addr_json(v4: Sequence[str] = (), v6: Sequence[str] = (), *, v6_flag: Optional[str] = None,
              operstate: str = "UP") -> str:
    """`ip -j addr show dev net1` as iproute2 prints it (shape of tests/testdata/ip-addr-net1.json)."""
    (link,) = json.loads(fixture("ip-addr-net1.json"))
    link["operstate"] = operstate
    template = {f["family"]: f for f in link["addr_info"] if f.get("scope") == "global"}
    infos = [{**template["inet"], "local": a} for a in v4]
    for address in v6:
        info = {**template["inet6"], "local": address}
        if v6_flag:
            info[v6_flag] = True
        infos.append(info)
    link["addr_info"] = infos + [f for f in link["addr_info"] if f.get("scope") == "link"]
    return json.dumps([link])


Answer = Union[ExecResult, Exception, Callable[[], ExecResult]]


@dataclass
class FakePod:
    """One pod's scripted world: its net1, its counters, which tools it has."""

    name: str
    node: str
    v4: Sequence[str]
    v6: Sequence[str]
    ranges: dict[str, list[str]]
    tools: set[str] = field(default_factory=lambda: {"ip", "ping", "iperf3", "cat"})
    tx: int = 752
    tx_factor: float = 1.03
    """net1 tx_bytes grows by this much of what iperf3 sent (headers make it a little more)."""
    script: dict[str, list[Answer]] = field(default_factory=dict)
    """Per step (addr, ping, client, server, tx): answers in order; the last one repeats."""

    @property
    def endpoint(self) -> dict[str, Any]:
        return {"pod": self.name, "node": self.node, "nad": f"macvlan-{self.node}-ens16f0",
                "namespace": "default", "ranges": self.ranges}


def seed_pods(**changes: dict[str, Any]) -> list[FakePod]:
    """The seed's two pods: alpine1 on w0 (10.1.10.14, fd10::12), alpine2 on w1 (10.1.10.22, fd10::22)."""
    pods = [
        FakePod("alpine1", "w0", ["10.1.10.14"], ["fd10::12"],
                {"ipv4": ["10.1.10.10-10.1.10.19"], "ipv6": ["fd10::10-fd10::19"]}),
        FakePod("alpine2", "w1", ["10.1.10.22"], ["fd10::22"],
                {"ipv4": ["10.1.10.20-10.1.10.29"], "ipv6": ["fd10::20-fd10::29"]}),
    ]
    for pod in pods:
        for key, value in changes.get(pod.name, {}).items():
            setattr(pod, key, value)
    return pods


class FakeExecutor:
    """Answers like the real tools would; records calls and checks no pod ever runs two commands at once."""

    def __init__(self, pods: Sequence[FakePod], rendezvous: Optional[threading.Barrier] = None) -> None:
        self.pods = {p.name: p for p in pods}
        self.by_address: dict[str, list[FakePod]] = {}
        for p in pods:
            for address in [*p.v4, *p.v6]:
                self.by_address.setdefault(address, []).append(p)
        self.calls: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.active: set[str] = set()
        self.max_active = 0
        self.clashes: list[tuple[str, list[str]]] = []
        self.client_ran = {p.name: threading.Event() for p in pods}
        self.rendezvous = rendezvous
        self.rendezvous_left = rendezvous.parties if rendezvous else 0

    def run(self, endpoint: dict[str, Any], argv: list[str], timeout: float) -> ExecResult:
        assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), argv
        assert timeout > 0
        pod = self.pods[endpoint["pod"]]
        if step_of(argv) == "end-server":  # part of the pair whose server is running there
            with self.lock:
                self.calls.append((pod.name, list(argv)))
            return self.answer(pod, argv)
        with self.lock:
            self.calls.append((pod.name, list(argv)))
            if pod.name in self.active:
                self.clashes.append((pod.name, list(argv)))
            self.active.add(pod.name)
            self.max_active = max(self.max_active, len(self.active))
        try:
            return self.answer(pod, argv)
        finally:
            with self.lock:
                self.active.discard(pod.name)

    def calls_of(self, pod: str, step: str) -> list[list[str]]:
        return [argv for name, argv in self.calls if name == pod and step_of(argv) == step]

    def answer(self, pod: FakePod, argv: list[str]) -> ExecResult:
        result = self.respond(pod, argv)
        if step_of(argv) == "client" and "Connection refused" not in result.stdout:
            # Unless nobody was listening yet, the peer's one-off server now ends (after its test,
            # or on --idle-timeout when the client never came).
            self.release(argv)
        return result

    def respond(self, pod: FakePod, argv: list[str]) -> ExecResult:
        step = step_of(argv)
        program = argv[0]
        if program not in pod.tools:
            return ExecResult(EXIT_NOT_FOUND, "", K8S_MISSING.replace("iperf3", program) + "\n")
        scripted = pod.script.get(step)
        if scripted:
            answer = scripted.pop(0) if len(scripted) > 1 else scripted[0]
            if isinstance(answer, Exception):
                raise answer
            result = answer() if callable(answer) else answer
            if step == "client" and result.rc == 0:
                self.after_client(pod, argv, result.stdout)
            return result
        if step == "addr":
            return ExecResult(0, addr_json(pod.v4, pod.v6), "")
        if step == "tx":
            return ExecResult(0, f"{pod.tx}\n", "")
        if step == "ping":
            family = "ipv6" if "-6" in argv else "ipv4"
            return ExecResult(0, fixture(f"ping-iputils-{family}.txt"), "")
        if step == "server":
            self.client_ran[pod.name].wait(5)
            self.client_ran[pod.name].clear()
            return ExecResult(0, "-----------------------------------------------------------\n"
                                 "Server listening on 5201 (test #1)\n", "")
        if step == "end-server":
            self.client_ran[pod.name].set()
            return ExecResult(0, "Connecting to host 127.0.0.1, port 5201\n", "")
        if step == "client":
            self.meet()
            target = argv[argv.index("-c") + 1]
            name = "iperf3-udp.json" if "-u" in argv else (
                "iperf3-tcp-ipv6.json" if ":" in target else "iperf3-tcp-ipv4-p2.json")
            text = fixture(name)
            self.after_client(pod, argv, text)
            return ExecResult(0, text, "")
        raise AssertionError(f"unscripted command {argv}")

    def after_client(self, pod: FakePod, argv: list[str], text: str) -> None:
        """A client run moved bytes out of net1 and released the peer's one-off server."""
        sent = json.loads(text)["end"]["sum_sent"]["bytes"]
        pod.tx += int(sent * pod.tx_factor)

    def release(self, argv: list[str]) -> None:
        target = argv[argv.index("-c") + 1]
        for holder in self.by_address.get(target, []):
            self.client_ran[holder.name].set()

    def meet(self) -> None:
        """The first iperf3 clients wait for each other: only concurrent pairs get past this."""
        with self.lock:
            if self.rendezvous_left <= 0:
                return
            self.rendezvous_left -= 1
        assert self.rendezvous is not None
        self.rendezvous.wait()


def step_of(argv: Sequence[str]) -> str:
    if argv[:2] == ["ip", "-j"]:
        return "addr"
    if argv[0] == "cat":
        return "tx"
    if argv[0] == "ping":
        return "ping"
    if argv[0] == "iperf3" and "127.0.0.1" in argv:
        return "end-server"
    if argv[0] == "iperf3":
        return "server" if "-s" in argv else "client"
    raise AssertionError(f"unknown command {argv}")


def run(pods: Sequence[FakePod], settings: Optional[dict[str, Any]] = None,
        families: Sequence[str] = ("ipv4", "ipv6"), executor: Optional[FakeExecutor] = None,
        tuning: Tuning = FAST, on_pair: Any = None) -> tuple[dict[str, Any], FakeExecutor]:
    executor = executor or FakeExecutor(pods)
    results = run_suite([p.endpoint for p in pods], list(families), settings or {}, executor,
                        tuning=tuning, on_pair=on_pair, sleep=lambda _s: None)
    assert executor.clashes == []
    json.dumps(results)  # JSON-able all the way down
    return results, executor


def check(results: dict[str, Any], client: str, server: str, family: str) -> dict[str, Any]:
    (found,) = [c for c in results["checks"]
                if (c["client"], c["server"], c["family"]) == (client, server, family)]
    return found


# --- all pass ------------------------------------------------------------------------------


def test_all_pass_with_real_tool_outputs() -> None:
    results, executor = run(seed_pods())
    assert results["passed"] is True
    assert results["failures"] == []
    assert [(c["client"], c["server"], c["family"]) for c in results["checks"]] == [
        ("alpine1", "alpine2", "ipv4"), ("alpine1", "alpine2", "ipv6"),
        ("alpine2", "alpine1", "ipv4"), ("alpine2", "alpine1", "ipv6"),
    ]
    v6 = check(results, "alpine1", "alpine2", "ipv6")
    assert (v6["clientAddress"], v6["serverAddress"]) == ("fd10::12", "fd10::22")
    assert v6["ping"] == {"transmitted": 3, "received": 3, "duplicates": 0, "errors": 0, "lossPercent": 0.0,
                          "rttMinMs": 0.071, "rttAvgMs": 0.076, "rttMaxMs": 0.082, "rttMdevMs": 0.004}
    assert v6["iperf3"]["protocol"] == "TCP"
    assert v6["iperf3"]["sentBytes"] == 1797783552
    assert v6["iperf3"]["retransmits"] == 3534
    assert round(v6["iperf3"]["receiverGbps"], 2) == 14.38
    assert v6["txBytes"]["delta"] == int(1797783552 * 1.03)
    assert round(v6["txBytes"]["ratio"], 2) == 1.03
    assert v6["passed"] is True and v6["failures"] == []
    assert v6["summary"] == ("alpine1 -> alpine2 ipv6: ping 0% loss rtt 0.071/0.076/0.082 ms;"
                             " iperf3 14.4 Gbit/s, 3534 retr; net1 +1.7 GiB")
    assert results["summary"] == [c["summary"] for c in results["checks"]]
    assert results["pods"][0]["addresses"] == {
        "ipv4": [{"address": "10.1.10.14", "inRange": True, "unique": True}],
        "ipv6": [{"address": "fd10::12", "inRange": True, "unique": True}],
    }
    assert results["pods"][1]["ranges"] == {"ipv4": ["10.1.10.20-10.1.10.29"], "ipv6": ["fd10::20-fd10::29"]}
    assert results["pods"][1]["interface"] == {"name": "net1", "mac": "ae:2d:2f:05:84:eb", "mtu": 1500,
                                               "operstate": "UP"}
    # tx_bytes is read around each iperf3 run of the client, in the client.
    assert executor.calls_of("alpine1", "tx") == [["cat", "/sys/class/net/net1/statistics/tx_bytes"]] * 4


def test_commands_are_bounded_argv_lists() -> None:
    settings = {"pingCount": 5, "pingDeadlineSeconds": 7, "iperfSeconds": 4, "iperfStreams": 2}
    _, executor = run(seed_pods(), settings)
    assert executor.calls_of("alpine1", "addr") == [["ip", "-j", "addr", "show", "dev", "net1"]]
    assert executor.calls_of("alpine1", "ping") == [
        ["ping", "-4", "-c", "5", "-i", "0.2", "-W", "2", "-w", "7", "10.1.10.22"],
        ["ping", "-6", "-c", "5", "-i", "0.2", "-W", "2", "-w", "7", "fd10::22"],
    ]
    assert executor.calls_of("alpine1", "client")[0] == [
        "iperf3", "-c", "10.1.10.22", "-p", "5201", "-J", "-t", "4", "-P", "2", "--connect-timeout", "3000"]
    assert executor.calls_of("alpine2", "server")[0] == [
        "iperf3", "-s", "-1", "-p", "5201", "--idle-timeout", str(FAST.iperf_server_idle_seconds)]


def test_udp_mode_reports_jitter_and_loss() -> None:
    results, executor = run(seed_pods(), {"iperfProtocol": "udp", "iperfUdpBitrate": "100M"}, families=["ipv4"])
    assert results["passed"] is True
    assert executor.calls_of("alpine1", "client")[0][-3:] == ["-u", "-b", "100M"]
    iperf = check(results, "alpine1", "alpine2", "ipv4")["iperf3"]
    assert iperf["protocol"] == "UDP" and iperf["retransmits"] is None
    assert {"jitterMs", "lostPackets", "packets", "lostPercent"} <= set(iperf)
    assert ", jitter " in check(results, "alpine1", "alpine2", "ipv4")["summary"]


def test_one_family_only_checks_that_family() -> None:
    results, executor = run(seed_pods(), families=["ipv6"])
    assert results["passed"] is True
    assert {c["family"] for c in results["checks"]} == {"ipv6"}
    assert all(argv[1] == "-6" for argv in executor.calls_of("alpine1", "ping"))


# --- ping ------------------------------------------------------------------------------------


@pytest.mark.parametrize("max_loss, passed", [(0.0, False), (33.0, False), (34.0, True)])
def test_ping_loss_against_threshold(max_loss: float, passed: bool) -> None:
    lossy = {"alpine1": {"script": {"ping": [ExecResult(1, fixture("ping-iputils-loss-fractional.txt"), "")]}}}
    results, _ = run(seed_pods(**lossy), {"maxLossPercent": max_loss}, families=["ipv4"])
    assert results["passed"] is passed
    allowed = f", allowed {max_loss:g}%" if max_loss else ""
    expected = f"ping/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): 33.3333% loss (3 sent, 2 received{allowed})"
    assert (expected in results["failures"]) is not passed
    assert check(results, "alpine1", "alpine2", "ipv4")["ping"]["lossPercent"] == 33.3333


def test_total_loss_reads_by_itself_and_skips_iperf3() -> None:
    silent = {"alpine1": {"script": {"ping": [ExecResult(1, fixture("ping-iputils-loss-total.txt"), "")]}}}
    results, executor = run(seed_pods(**silent))
    assert "ping/ipv6: alpine1 (fd10::12) -> alpine2 (fd10::22): 100% loss (3 sent, 0 received)" in results["failures"]
    v6 = check(results, "alpine1", "alpine2", "ipv6")
    assert v6["iperf3"] == {"skipped": "no ping reply"}
    assert v6["summary"] == ("alpine1 -> alpine2 ipv6: ping 100% loss; iperf3 not run (no ping reply)"
                             " [FAILED: 1 problem]")
    assert executor.calls_of("alpine1", "client") == []
    assert check(results, "alpine2", "alpine1", "ipv6")["passed"] is True
    assert "FAIL ping/ipv6: alpine1 (fd10::12) -> alpine2 (fd10::22): 100% loss (3 sent, 0 received)" in results["summary"]


def test_ping_without_summary_is_a_named_failure() -> None:
    unreachable = ExecResult(2, "", fixture("ping-iputils-unreachable.txt"))
    results, _ = run(seed_pods(alpine1={"script": {"ping": [unreachable]}}), families=["ipv4"])
    assert ("ping/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): ping failed (rc 2):"
            " ping: connect: Network is unreachable") in results["failures"]


# --- exec errors, timeouts, missing tools -------------------------------------------------------


def test_exec_error_is_a_named_failure() -> None:
    broken = {"alpine2": {"script": {"ping": [ExecError("pod default/alpine2: cannot exec 'ping': Handshake status 500")]}}}
    results, _ = run(seed_pods(**broken), families=["ipv4"])
    assert results["passed"] is False
    assert ("ping/ipv4: alpine2 (10.1.10.22) -> alpine1 (10.1.10.14): cannot exec ping:"
            " pod default/alpine2: cannot exec 'ping': Handshake status 500") in results["failures"]
    # The failed ping did not stop the rest of the pair's checks.
    assert check(results, "alpine2", "alpine1", "ipv4")["iperf3"]["protocol"] == "TCP"


def test_exec_error_reading_addresses_is_a_named_failure() -> None:
    gone = {"alpine2": {"script": {"addr": [ExecError("pod default/alpine2: cannot exec 'ip' after 10 attempts: pods \"alpine2\" not found")]}}}
    results, executor = run(seed_pods(**gone), families=["ipv4"])
    assert results["failures"][0] == (
        "addresses: alpine2 (w1): cannot exec into the pod: pod default/alpine2: cannot exec 'ip' after 10 attempts:"
        " pods \"alpine2\" not found")
    assert ("pair/ipv4: alpine1 (10.1.10.14) -> alpine2 (no address): not checked: no usable ipv4 address on net1"
            " of alpine2") in results["failures"]
    assert executor.calls_of("alpine1", "ping") == []


def test_timeout_is_a_named_failure() -> None:
    stuck = {"alpine1": {"script": {"ping": [ExecResult(None, "PING fd10::22(fd10::22) 56 data bytes\n", "",
                                                        timed_out=True)]}}}
    results, _ = run(seed_pods(**stuck), {"pingDeadlineSeconds": 10}, families=["ipv6"])
    assert ("ping/ipv6: alpine1 (fd10::12) -> alpine2 (fd10::22): ping timed out after 25s (deadline -w 10)"
            in results["failures"])


def test_iperf3_client_timeout_is_a_named_failure() -> None:
    stuck = {"alpine1": {"script": {"client": [ExecResult(None, "", "", timed_out=True)]}}}
    results, _ = run(seed_pods(**stuck), {"iperfSeconds": 3}, families=["ipv4"])
    assert ("iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): iperf3 client timed out after 21s"
            in results["failures"])


def test_iperf3_error_json_is_a_named_failure() -> None:
    killed = {"alpine1": {"script": {"client": [ExecResult(1, fixture("iperf3-error-server-killed.json"), "")]}}}
    results, executor = run(seed_pods(**killed), families=["ipv4"])
    assert ("iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): iperf3 error: the server has terminated"
            in results["failures"])
    assert len(executor.calls_of("alpine1", "client")) == 1  # not a start race: no retry


@pytest.mark.parametrize("where", ["alpine1", "alpine2"])
def test_iperf3_missing_is_one_clear_error(where: str) -> None:
    pods = seed_pods(**{where: {"tools": {"ip", "ping", "cat"}}})
    results, executor = run(pods)
    assert results["passed"] is False
    assert results["failures"] == [f"iperf3 is not installed in pod {where}"]
    # Once known, the other checks do not try again.
    assert len(executor.calls_of(where, "client") + executor.calls_of(where, "server")) == 1
    assert all("Traceback" not in line for line in results["summary"])


def test_ping_missing_is_one_clear_error() -> None:
    results, _ = run(seed_pods(alpine2={"tools": {"ip", "iperf3", "cat"}}))
    assert results["failures"] == ["ping is not installed in pod alpine2"]


# --- the iperf3 server start race ----------------------------------------------------------------


def test_client_retries_while_the_server_is_not_listening_yet() -> None:
    racy = {"alpine1": {"script": {"client": [ExecResult(1, REFUSED, ""), ExecResult(1, REFUSED, ""),
                                               lambda: ExecResult(0, fixture("iperf3-tcp-ipv4-p2.json"), "")]}}}
    results, executor = run(seed_pods(**racy), families=["ipv4"])
    assert results["passed"] is True
    assert len(executor.calls_of("alpine1", "client")) == 3


def test_client_retries_are_bounded() -> None:
    tuning = Tuning(tentative_delay_seconds=0, iperf_retry_delay_seconds=0, iperf_server_start_seconds=0,
                    iperf_connect_attempts=3)
    pods = seed_pods(alpine1={"script": {"client": [ExecResult(1, REFUSED, "")]}},
                     alpine2={"script": {"server": [ExecResult(0, "", "")]}})
    executor = FakeExecutor(pods)
    # The server stays up (it answers only once the client gave up): every attempt is refused.
    release = threading.Event()
    pods[1].script["server"] = [lambda: (release.wait(5), ExecResult(0, "", ""))[1]]
    original = executor.answer

    def answer(pod: FakePod, argv: list[str]) -> ExecResult:
        result = original(pod, argv)
        if step_of(argv) == "client" and len(executor.calls_of("alpine1", "client")) == 3:
            release.set()
        return result

    executor.answer = answer  # type: ignore[method-assign]
    results, _ = run(pods, families=["ipv4"], executor=executor, tuning=tuning)
    assert len(executor.calls_of("alpine1", "client")) == 3
    assert ("iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): iperf3 error:"
            " unable to connect to server: Connection refused") in results["failures"]


def test_a_server_the_client_never_reached_is_ended_from_its_own_pod() -> None:
    # alpine1 talks to itself (say, a duplicate address): the peer's server waits for a client that never comes.
    pods = seed_pods(alpine1={"script": {"client": [ExecResult(1, REFUSED, "")]}})
    executor = FakeExecutor(pods)
    executor.release = lambda argv: None  # type: ignore[method-assign] - only the suite can end the server
    results, _ = run(pods, families=["ipv4"], executor=executor)
    assert executor.calls_of("alpine2", "end-server") == [
        ["iperf3", "-c", "127.0.0.1", "-p", "5201", "-n", "1K", "--connect-timeout", "3000"]]
    assert ("iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): iperf3 error:"
            " unable to connect to server: Connection refused") in results["failures"]


def test_a_server_that_failed_explains_the_refused_client() -> None:
    pods = seed_pods(alpine1={"script": {"client": [ExecResult(1, REFUSED, "")]}},
                     alpine2={"script": {"server": [ExecResult(1, "", "iperf3: error - unable to start listener"
                                                                        " for connections: Address already in use\n")]}})
    results, executor = run(pods, families=["ipv4"])
    assert results["failures"] == [
        "iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): iperf3 server in alpine2 failed (rc 1):"
        " iperf3: error - unable to start listener for connections: Address already in use"]
    assert len(executor.calls_of("alpine1", "client")) == 1


# --- addresses --------------------------------------------------------------------------------------


def test_duplicate_addresses_name_both_pods() -> None:
    # The negative control: both nodes were given the same range, host-local handed out the same addresses.
    same = {"ipv4": ["10.1.10.10-10.1.10.19"], "ipv6": ["fd10::10-fd10::19"]}
    pods = seed_pods(alpine2={"v4": ["10.1.10.14"], "v6": ["fd10::12"], "ranges": same})
    results, _ = run(pods)
    assert results["passed"] is False
    assert results["failures"][:2] == [
        "addresses/ipv4: 10.1.10.14 is on both alpine1 (w0) and alpine2 (w1): host-local never notices"
        " a duplicate across nodes; each node needs its own range",
        "addresses/ipv6: fd10::12 is on both alpine1 (w0) and alpine2 (w1): host-local never notices"
        " a duplicate across nodes; each node needs its own range",
    ]
    assert results["pods"][1]["addresses"]["ipv4"] == [{"address": "10.1.10.14", "inRange": True, "unique": False}]


def test_address_outside_its_nodes_range() -> None:
    results, _ = run(seed_pods(alpine2={"v4": ["10.1.10.99"]}), families=["ipv4"])
    assert results["failures"] == [
        "addresses/ipv4: alpine2 (w1): 10.1.10.99 is outside the node's planned range 10.1.10.20-10.1.10.29"]
    assert results["pods"][1]["addresses"]["ipv4"] == [{"address": "10.1.10.99", "inRange": False, "unique": True}]


def test_missing_net1_is_a_named_failure() -> None:
    missing = ExecResult(1, "", fixture("ip-addr-missing-device.txt"))
    results, executor = run(seed_pods(alpine2={"script": {"addr": [missing]}}), families=["ipv4"])
    assert results["failures"] == [
        'addresses: alpine2 (w1): no net1 interface in the pod (Device "net1" does not exist.):'
        " the macvlan attachment is missing",
        "pair/ipv4: alpine1 (10.1.10.14) -> alpine2 (no address): not checked: no usable ipv4 address on net1"
        " of alpine2",
        "pair/ipv4: alpine2 (no address) -> alpine1 (10.1.10.14): not checked: no usable ipv4 address on net1"
        " of alpine2",
    ]
    assert results["pods"][1]["interface"] is None
    assert results["pods"][1]["error"].startswith("addresses: alpine2 (w1): no net1 interface")


def test_family_without_address_is_a_named_failure() -> None:
    results, _ = run(seed_pods(alpine2={"v6": []}))
    assert "addresses/ipv6: alpine2 (w1): no ipv6 address on net1" in results["failures"]
    assert check(results, "alpine1", "alpine2", "ipv4")["passed"] is True
    assert check(results, "alpine1", "alpine2", "ipv6")["failures"] == [
        "pair/ipv6: alpine1 (fd10::12) -> alpine2 (no address): not checked: no usable ipv6 address on net1 of alpine2"]


def test_tentative_ipv6_is_waited_for() -> None:
    settling = [ExecResult(0, fixture("ip-addr-net1-tentative.json"), ""),
                ExecResult(0, addr_json(["10.1.10.14"], ["fd10::12"]), "")]
    results, executor = run(seed_pods(alpine1={"script": {"addr": settling}}))
    assert results["passed"] is True
    assert len(executor.calls_of("alpine1", "addr")) == 2


def test_dadfailed_ipv6_is_a_duplicate() -> None:
    dad = ExecResult(0, addr_json(["10.1.10.22"], ["fd10::12"], v6_flag="dadfailed"), "")
    results, _ = run(seed_pods(alpine2={"script": {"addr": [dad]}}), families=["ipv6"])
    assert results["failures"][:3] == [
        "addresses/ipv6: fd10::12 is on both alpine1 (w0) and alpine2 (w1): host-local never notices a duplicate"
        " across nodes; each node needs its own range",
        "addresses/ipv6: alpine2 (w1): fd10::12 failed duplicate address detection: another interface on the link"
        " holds it",
        "addresses/ipv6: alpine2 (w1): no ipv6 address on net1 (dadfailed: fd10::12)",
    ]


def test_net1_down_is_a_failure() -> None:
    down = ExecResult(0, addr_json(["10.1.10.22"], ["fd10::22"], operstate="DOWN"), "")
    results, _ = run(seed_pods(alpine2={"script": {"addr": [down]}}), families=["ipv4"])
    assert results["failures"] == ["addresses: alpine2 (w1): net1 is DOWN"]


# --- thresholds and the path proof ----------------------------------------------------------------


def test_path_proof_fails_when_net1_did_not_carry_the_bytes() -> None:
    # e.g. the route to the peer went out eth0: net1's counter barely moved.
    results, _ = run(seed_pods(alpine1={"tx_factor": 0.001}), families=["ipv4"])
    assert results["failures"] == [
        "path/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): net1 tx_bytes of alpine1 grew by 2402680"
        " (2.3 MiB) while iperf3 sent 2402680832 (2.2 GiB): 0% < 90%, so the traffic did not take net1"]
    assert check(results, "alpine1", "alpine2", "ipv4")["txBytes"]["ratio"] == pytest.approx(0.001, abs=1e-6)


def test_path_proof_ratio_is_a_setting() -> None:
    results, _ = run(seed_pods(alpine1={"tx_factor": 0.5}), {"pathProofRatio": 0.4}, families=["ipv4"])
    assert results["passed"] is True


def test_unreadable_tx_bytes_is_a_named_failure() -> None:
    gone = ExecResult(1, "", fixture("sysfs-tx-bytes-missing.txt"))
    results, _ = run(seed_pods(alpine1={"script": {"tx": [gone]}}), families=["ipv4"])
    assert results["failures"] == [
        "path/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22): cannot read /sys/class/net/net1/statistics/tx_bytes"
        " (rc 1): " + " ".join(fixture("sysfs-tx-bytes-missing.txt").split())]


@pytest.mark.parametrize("min_gbps, passed", [(19.0, True), (20.0, False)])
def test_throughput_against_min_gbps(min_gbps: float, passed: bool) -> None:
    results, _ = run(seed_pods(), {"minGbps": min_gbps}, families=["ipv4"])
    assert results["passed"] is passed
    if not passed:
        assert results["failures"][0] == ("iperf3/ipv4: alpine1 (10.1.10.14) -> alpine2 (10.1.10.22):"
                                          " 19.2 Gbit/s received, below the minimum 20 Gbit/s")


# --- scheduling --------------------------------------------------------------------------------------


def four_pods() -> list[FakePod]:
    return [FakePod(f"alpine{i}", f"w{i}", [f"10.1.10.{i}0"], [f"fd10::{i}0"],
                    {"ipv4": [f"10.1.10.{i}0-10.1.10.{i}9"], "ipv6": [f"fd10::{i}0-fd10::{i}9"]})
            for i in range(1, 5)]


def test_disjoint_pairs_run_in_parallel_and_pairs_sharing_a_pod_never_do() -> None:
    pods = four_pods()
    # The first two iperf3 clients must meet: a serial scheduler would break the barrier.
    executor = FakeExecutor(pods, rendezvous=threading.Barrier(2, timeout=10))
    progress: list[str] = []
    results, _ = run(pods, {"parallelism": 4}, executor=executor,
                     on_pair=lambda pair, done, total: progress.append(progress_line(pair, done, total)))
    assert results["passed"] is True, results["failures"]
    assert executor.clashes == []  # no pod ever ran two commands at once
    assert executor.max_active == 4
    assert len(results["checks"]) == 4 * 3 * 2
    assert len(progress) == 12
    assert progress[-1].startswith("[12/12] ") and progress[-1].endswith(": ipv4 ok, ipv6 ok")


def test_parallelism_one_runs_one_pair_at_a_time() -> None:
    results, executor = run(four_pods(), {"parallelism": 1}, families=["ipv4"])
    assert results["passed"] is True
    assert executor.max_active == 2  # a client and its server


def test_progress_line_names_failed_families() -> None:
    pair = {"client": "alpine1", "server": "alpine2", "families": {"ipv4": True, "ipv6": False}, "failures": []}
    assert progress_line(pair, 1, 2) == "[1/2] alpine1 -> alpine2: ipv4 ok, ipv6 FAILED"


# --- formatting, settings, inputs -----------------------------------------------------------------------


def test_summary_line_reads_like_the_seed() -> None:
    seed = {"client": "alpine1", "server": "alpine2", "family": "ipv6",
            "ping": {"lossPercent": 0.0, "rttMinMs": 0.155, "rttAvgMs": 0.377, "rttMaxMs": 0.818},
            "iperf3": {"protocol": "TCP", "receiverGbps": 18.5, "retransmits": 614},
            "txBytes": {"delta": 23126289711 - 1324}, "failures": []}
    assert summary_line(seed) == ("alpine1 -> alpine2 ipv6: ping 0% loss rtt 0.155/0.377/0.818 ms;"
                                  " iperf3 18.5 Gbit/s, 614 retr; net1 +21.5 GiB")


@pytest.mark.parametrize("count, text", [(0, "0 B"), (1023, "1023 B"), (1324, "1.3 KiB"),
                                         (2402680832, "2.2 GiB"), (23126289711, "21.5 GiB")])
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


def test_settings_from_data_fills_defaults_and_takes_grpc_floats() -> None:
    settings, problems = settings_from_data({"pingCount": 5.0, "parallelism": 2.0, "minGbps": 1})
    assert problems == []
    assert settings == CheckSettings(ping_count=5, parallelism=2, min_gbps=1.0)


def test_settings_from_data_names_every_problem() -> None:
    _, problems = settings_from_data({"pingCount": 0, "iperfProtocol": "sctp", "pathProofRatio": 2, "colour": 1})
    assert problems == [
        "settings.colour: got 1; is not a known checks key; known keys: enabled, pingCount, pingDeadlineSeconds,"
        " iperfSeconds, iperfStreams, iperfProtocol, iperfUdpBitrate, maxLossPercent, minGbps, pathProofRatio,"
        " parallelism, failOnError, trigger",
        "settings.pingCount: got 0; must be an integer from 1 to 1000",
        "settings.iperfProtocol: got 'sctp'; must be one of tcp, udp",
        "settings.pathProofRatio: got 2.0; must be a number from 0 to 1",
    ]


def test_endpoint_and_family_problems() -> None:
    assert family_problems(["ipv4", "ipv4"]) == [
        "families: got ['ipv4', 'ipv4']; must be a non-empty list of ipv4, ipv6 without repeats"]
    assert family_problems([]) != []
    good = seed_pods()[0].endpoint
    assert endpoint_problems([good], ["ipv4", "ipv6"]) == []
    assert endpoint_problems([], ["ipv4"]) == ["endpoints: got []; must be a non-empty list of endpoint objects"]
    bad = [good, {**good, "node": "", "ranges": {"ipv4": ["10.1.10.30-fd10::1"], "ipv6": ["10.1.10.1-10.1.10.2"]}}]
    problems = endpoint_problems(bad, ["ipv4", "ipv6"])
    assert problems[0] == "endpoints[1].node: got ''; must be a non-empty string"
    assert problems[1] == "endpoints[1].pod: got 'alpine1'; already used by endpoints[0]"
    assert problems[2].startswith("endpoints[1].ranges.ipv4: range '10.1.10.30-fd10::1' is not first-last addresses")
    assert problems[3] == "endpoints[1].ranges.ipv6: range '10.1.10.1-10.1.10.2' is not an ipv6 range"


def test_run_suite_rejects_invalid_inputs() -> None:
    with pytest.raises(ValueError, match=r"families: got \['ipv5'\]"):
        run_suite([seed_pods()[0].endpoint], ["ipv5"], {}, FakeExecutor(seed_pods()))


def test_suite_and_executors_import_neither_pulumi_nor_kubernetes() -> None:
    code = ("import sys, components.checks.suite, components.checks.executors;"
            "print(sorted(m for m in ('pulumi', 'kubernetes') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
