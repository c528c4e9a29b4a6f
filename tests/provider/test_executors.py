"""Executors: Kubernetes stream exec (against a fake websocket client) and ip netns exec."""
from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest

from components.checks import executors
from components.checks.executors import (
    EXIT_NOT_FOUND,
    ExecError,
    ExecResult,
    KubernetesExecutor,
    NetnsExecutor,
    executor_from_spec,
    executor_spec_problems,
    exit_status,
    looks_like_kubeconfig_contents,
    not_ready,
)
from tests.provider.conftest import _remove_netns, require_root

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: seed
  cluster: {server: "https://10.0.0.1:6443", insecure-skip-tls-verify: true}
- name: lab
  cluster: {server: "https://192.0.2.10:6443", insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: "not-a-real-token"}
contexts:
- name: seed
  context: {cluster: seed, user: admin}
- name: lab
  context: {cluster: lab, user: admin}
current-context: seed
"""
ENDPOINT = {"pod": "alpine1", "node": "w0", "namespace": "default"}
SUCCESS = '{"metadata":{},"status":"Success"}'
EXIT_1 = ('{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 1",'
          '"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"1"}]}}')
NOT_FOUND = ('{"metadata":{},"status":"Failure","message":"OCI runtime exec failed: exec failed: unable to start'
             ' container process: exec: \\"iperf3\\": executable file not found in $PATH: unknown",'
             '"reason":"InternalError","details":{"causes":[{"message":"OCI runtime exec failed"}]},"code":500}')


# --- the exec status channel ----------------------------------------------------------------


@pytest.mark.parametrize("status, expected", [
    (SUCCESS, (0, "")),
    (EXIT_1, (1, "command terminated with non-zero exit code: exit status 1")),
    ("status: Failure\nmessage: exit status 2\ndetails:\n  causes:\n  - {reason: ExitCode, message: '2'}\n",
     (2, "exit status 2")),
])
def test_exit_status(status: str, expected: tuple[int, str]) -> None:
    assert exit_status(status) == expected


def test_exit_status_of_a_missing_program_is_127() -> None:
    rc, message = exit_status(NOT_FOUND)
    assert rc == EXIT_NOT_FOUND
    assert 'exec: "iperf3": executable file not found in $PATH' in message


@pytest.mark.parametrize("status, match", [
    ("", "without an exit status"),
    ("[1, 2", "unreadable exec status"),
    ('{"status":"Failure","message":"error dialing backend"}', "exec failed: error dialing backend"),
])
def test_exit_status_rejects(status: str, match: str) -> None:
    with pytest.raises(ExecError, match=match):
        exit_status(status)


def api_exception(status: int, reason: str) -> Exception:
    from kubernetes.client.rest import ApiException

    return ApiException(status=status, reason=reason)


@pytest.mark.parametrize("error, expected", [
    (api_exception(0, 'Handshake status 400 Bad Request -+-+- {} -+-+- b\'{"message":"container not found'
                      ' (\\"testbed\\")"}\''), True),
    (api_exception(0, "Handshake status 404 Not Found"), True),
    (api_exception(0, 'pod alpine1 does not have a host assigned'), True),
    (api_exception(404, 'pods "alpine1" not found'), True),
    (api_exception(0, "Handshake status 403 Forbidden"), False),
    (api_exception(401, "Unauthorized"), False),
])
def test_not_ready(error: Exception, expected: bool) -> None:
    assert not_ready(error) is expected


def test_kubeconfig_contents_or_path() -> None:
    assert looks_like_kubeconfig_contents(KUBECONFIG) is True
    assert looks_like_kubeconfig_contents('{"apiVersion": "v1", "kind": "Config"}') is True
    assert looks_like_kubeconfig_contents("~/.kube/config") is False
    assert looks_like_kubeconfig_contents("/etc/rancher/k3s/k3s.yaml") is False


# --- KubernetesExecutor ----------------------------------------------------------------------


@pytest.mark.parametrize("context, host", [(None, "https://10.0.0.1:6443"), ("lab", "https://192.0.2.10:6443")])
def test_configuration_from_contents_and_from_a_path(tmp_path: Path, context: Optional[str], host: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    for kubeconfig in (KUBECONFIG, str(path)):
        cfg = KubernetesExecutor(kubeconfig=kubeconfig, context=context).configuration()
        assert cfg.host == host
        assert list(cfg.api_key.values()) == ["Bearer not-a-real-token"]


def test_configuration_from_the_ambient_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import kube_config

    # The client reads $KUBECONFIG once, when it is imported (the provider server starts with the engine's env).
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    assert KubernetesExecutor(context="lab").configuration().host == "https://192.0.2.10:6443"
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ExecError, match="cannot load the ambient kubeconfig"):
        KubernetesExecutor().configuration()


def test_configuration_problems_are_exec_errors(tmp_path: Path) -> None:
    with pytest.raises(ExecError, match=r"cannot load the given kubeconfig \(context 'nope'\)"):
        KubernetesExecutor(kubeconfig=KUBECONFIG, context="nope").configuration()
    with pytest.raises(ExecError, match="cannot load the given kubeconfig"):
        KubernetesExecutor(kubeconfig=str(tmp_path / "missing")).configuration()


class FakeWebSocket:
    """The parts of kubernetes.stream.ws_client.WSClient the executor uses."""

    def __init__(self, stdout: str = "", stderr: str = "", status: str = SUCCESS, finishes: bool = True) -> None:
        self.channels = {1: stdout, 2: stderr, 3: status}
        self.finishes = finishes
        self.timeouts: list[float] = []
        self.closed = False

    def run_forever(self, timeout: Optional[float] = None) -> None:
        self.timeouts.append(timeout or 0)

    def is_open(self) -> bool:
        return not self.finishes and not self.closed

    def read_channel(self, channel: int, timeout: float = 0) -> str:
        return self.channels.pop(channel, "")

    def close(self, **_: Any) -> None:
        self.closed = True


class FakeStream:
    """Stands in for kubernetes.stream.stream: answers (or raises) in order, records every call."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def __call__(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        assert method.__name__ == "connect_get_namespaced_pod_exec"
        self.calls.append((args, kwargs))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def kube(monkeypatch: pytest.MonkeyPatch, *answers: Any) -> tuple[KubernetesExecutor, FakeStream, list[float]]:
    import kubernetes.stream

    fake = FakeStream(*answers)
    monkeypatch.setattr(kubernetes.stream, "stream", fake)
    sleeps: list[float] = []
    executor = KubernetesExecutor(kubeconfig=KUBECONFIG, container="testbed", ready_attempts=3,
                                  ready_delay=2.0, sleep=sleeps.append)
    return executor, fake, sleeps


def test_kubernetes_exec_passes_argv_and_collects_the_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    socket = FakeWebSocket(stdout="752\n")
    executor, fake, _ = kube(monkeypatch, socket)
    result = executor.run(ENDPOINT, ["cat", "/sys/class/net/net1/statistics/tx_bytes"], 20)
    assert result == ExecResult(0, "752\n", "")
    (args, kwargs), = fake.calls
    assert args == ("alpine1", "default")
    assert kwargs == {"command": ["cat", "/sys/class/net/net1/statistics/tx_bytes"], "container": "testbed",
                      "stderr": True, "stdin": False, "stdout": True, "tty": False, "_preload_content": False}
    assert socket.timeouts == [20] and socket.closed


def test_kubernetes_exec_non_zero_and_missing_program(monkeypatch: pytest.MonkeyPatch) -> None:
    executor, _, _ = kube(monkeypatch, FakeWebSocket(stdout="ping output", status=EXIT_1))
    assert executor.run(ENDPOINT, ["ping", "x"], 5) == ExecResult(1, "ping output", "")
    executor, _, _ = kube(monkeypatch, FakeWebSocket(status=NOT_FOUND))
    result = executor.run(ENDPOINT, ["iperf3", "-s"], 5)
    assert result.rc == EXIT_NOT_FOUND and "executable file not found" in result.stderr


def test_kubernetes_exec_timeout_is_returned_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    socket = FakeWebSocket(stdout="partial", finishes=False)
    executor, _, _ = kube(monkeypatch, socket)
    assert executor.run(ENDPOINT, ["iperf3", "-c", "x"], 3) == ExecResult(None, "partial", "", timed_out=True)
    assert socket.closed


def test_kubernetes_exec_waits_for_a_pod_that_is_not_running_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    starting = api_exception(0, 'Handshake status 400 Bad Request: container not found ("testbed")')
    executor, fake, sleeps = kube(monkeypatch, starting, starting, FakeWebSocket(stdout="ok"))
    assert executor.run(ENDPOINT, ["true"], 5).stdout == "ok"
    assert len(fake.calls) == 3 and sleeps == [2.0, 2.0]


def test_kubernetes_exec_retries_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = api_exception(404, 'pods "alpine1" not found')
    executor, fake, _ = kube(monkeypatch, missing)
    with pytest.raises(ExecError, match=r"pod default/alpine1: cannot exec 'ip' after 3 attempts: pods \"alpine1\""):
        executor.run(ENDPOINT, ["ip", "-j", "addr"], 5)
    assert len(fake.calls) == 3


def test_kubernetes_exec_does_not_retry_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    executor, fake, sleeps = kube(monkeypatch, api_exception(0, "Handshake status 403 Forbidden"))
    with pytest.raises(ExecError, match="pod default/alpine1: cannot exec 'ip': Handshake status 403 Forbidden"):
        executor.run(ENDPOINT, ["ip"], 5)
    assert len(fake.calls) == 1 and sleeps == []


# --- NetnsExecutor -----------------------------------------------------------------------------


def fake_run(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def run(argv: list[str], **kwargs: Any) -> Any:
        calls.append({"argv": argv, **kwargs})
        if isinstance(outcome, Exception):
            raise outcome
        return subprocess.CompletedProcess(argv, *outcome)

    monkeypatch.setattr(executors.subprocess, "run", run)
    return calls


def test_netns_exec_is_an_argv_list_with_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_run(monkeypatch, (0, "out", ""))
    result = NetnsExecutor().run({**ENDPOINT, "netns": "lab-alpine1"}, ["ping", "-c", "1", "10.1.10.22"], 7)
    assert result == ExecResult(0, "out", "")
    assert calls == [{"argv": ["ip", "netns", "exec", "lab-alpine1", "ping", "-c", "1", "10.1.10.22"],
                      "capture_output": True, "text": True, "timeout": 7, "check": False}]


def test_netns_exec_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = {**ENDPOINT, "netns": "lab-alpine1"}
    fake_run(monkeypatch, (1, "", 'exec of "iperf3" failed: No such file or directory\n'))
    assert NetnsExecutor().run(endpoint, ["iperf3"], 5).rc == EXIT_NOT_FOUND
    fake_run(monkeypatch, subprocess.TimeoutExpired(["ip"], 5, output=b"PING", stderr=None))
    assert NetnsExecutor().run(endpoint, ["ping"], 5) == ExecResult(None, "PING", "", timed_out=True)
    fake_run(monkeypatch, FileNotFoundError(2, "No such file or directory", "ip"))
    with pytest.raises(ExecError, match="pod default/alpine1: cannot run ip netns exec"):
        NetnsExecutor().run(endpoint, ["ping"], 5)
    with pytest.raises(ExecError, match="pod default/alpine1: endpoint has no 'netns'"):
        NetnsExecutor().run(ENDPOINT, ["ping"], 5)


@pytest.mark.lab
def test_netns_exec_for_real(request: pytest.FixtureRequest) -> None:
    require_root()
    name = f"mvtb-ex-{secrets.token_hex(4)}"
    request.addfinalizer(lambda: _remove_netns(name))
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    endpoint = {**ENDPOINT, "netns": name}
    listed = NetnsExecutor().run(endpoint, ["ip", "-j", "addr", "show", "dev", "lo"], 10)
    assert listed.rc == 0 and '"ifname":"lo"' in listed.stdout
    assert NetnsExecutor().run(endpoint, ["no-such-program-mvtb"], 10).rc == EXIT_NOT_FOUND
    slow = NetnsExecutor().run(endpoint, ["sleep", "5"], 0.5)
    assert slow.timed_out and slow.rc is None
    with pytest.raises(ExecError, match="no network namespace"):
        NetnsExecutor().run({**ENDPOINT, "netns": name + "-gone"}, ["true"], 10)


# --- executor_from_spec ---------------------------------------------------------------------------


def test_executor_from_spec() -> None:
    assert executor_from_spec({"kind": "netns"}) == NetnsExecutor()
    built = executor_from_spec({"kind": "kubernetes", "kubeconfig": KUBECONFIG, "context": "lab",
                                "container": "testbed"})
    assert built == KubernetesExecutor(kubeconfig=KUBECONFIG, context="lab", container="testbed")
    assert executor_from_spec({"kind": "kubernetes"}) == KubernetesExecutor()
    with pytest.raises(ValueError, match="executor.kind: got 'ssh'; must be one of kubernetes, netns"):
        executor_from_spec({"kind": "ssh"})


def test_executor_spec_problems_keep_the_kubeconfig_out_of_messages() -> None:
    assert executor_spec_problems({"kind": "kubernetes", "kubeconfig": {"token": "s3cr3t"}, "ctx": "x"}) == [
        "executor.ctx: got 'x'; not a key of a kubernetes executor (keys: kind, kubeconfig, context, container)",
        "executor.kubeconfig: got <secret>; must be a string or null",
    ]
    assert executor_spec_problems("netns") == [
        "executor: got 'netns'; must be an object with a 'kind' of kubernetes, netns"]
