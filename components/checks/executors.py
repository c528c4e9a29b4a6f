"""How a check's command reaches a pod: Kubernetes exec (stream API) or `ip netns exec` in the lab.

The protocol is one method, ``run(endpoint, argv, timeout) -> ExecResult``:

- ``endpoint`` is the provider's endpoint mapping (``pod``, ``namespace``, ``netns``...);
- ``argv`` is run as a list, never through a shell;
- a command that outlived ``timeout`` seconds *returns* ``ExecResult(rc=None, timed_out=True)``
  with whatever output it printed so far (ping and iperf3 print useful partial output);
- ``rc == 127`` means the program is not installed in the pod, whatever the backend's own way
  of saying so (``ip netns exec`` exits 1 with 'exec of "x" failed'; a container runtime
  answers "executable file not found");
- when the command could not be started at all (no such pod, pod never became ready, API
  unreachable, no ``ip`` binary) ``run`` *raises* ExecError, whose message names the pod.

Executors hold only plain settings; clients are built inside ``run`` (a kubernetes client
that was used once cannot be pickled, and the check provider is pickled into the state).
"""
from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence

EXIT_NOT_FOUND = 127
"""What a shell answers for a missing program; every executor reports a missing one this way."""

EXECUTOR_KINDS = ("kubernetes", "netns")

_NETNS_EXEC_MISSING = re.compile(r'exec of "(?P<program>[^"]*)" failed: No such file or directory')
_RUNTIME_MISSING = re.compile(r"executable file not found|no such file or directory|not found", re.I)
# Answers of the API server / kubelet while a pod is scheduled but its container is not running yet.
_NOT_READY = re.compile(
    r"\b404\b|not found|container not found|is not running|ContainerCreating|PodInitializing"
    r"|does not have a host assigned|is waiting to start|\b400\b.*Bad Request|Handshake status 400|"
    r"Handshake status 404|Handshake status 500",
    re.I,
)


class ExecError(RuntimeError):
    """A command could not be started in a pod at all (as opposed to running and failing)."""


@dataclass(frozen=True)
class ExecResult:
    """What a command left behind: exit code (None when it timed out), stdout and stderr."""

    rc: Optional[int]
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        """True for a command that ran to completion with exit code 0."""
        return self.rc == 0 and not self.timed_out


class Executor(Protocol):
    """Runs argv inside the pod an endpoint names."""

    def run(self, endpoint: Mapping[str, Any], argv: Sequence[str], timeout: float) -> ExecResult:
        """Run argv to completion or until timeout seconds passed; raise ExecError if it cannot start."""
        ...


def pod_label(endpoint: Mapping[str, Any]) -> str:
    """`namespace/pod` as error messages name a pod."""
    namespace = endpoint.get("namespace")
    return f"{namespace}/{endpoint.get('pod')}" if namespace else str(endpoint.get("pod"))


# --- lab: ip netns exec -------------------------------------------------------


@dataclass(frozen=True)
class NetnsExecutor:
    """Runs commands in the lab's pod namespaces with `ip netns exec` (needs root)."""

    def run(self, endpoint: Mapping[str, Any], argv: Sequence[str], timeout: float) -> ExecResult:
        from components.lab.netns import exec_argv

        netns = endpoint.get("netns")
        if not isinstance(netns, str) or not netns:
            raise ExecError(f"pod {pod_label(endpoint)}: endpoint has no 'netns' for the netns executor")
        try:
            proc = subprocess.run(
                exec_argv(netns, list(argv)), capture_output=True, text=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            return ExecResult(None, _text(exc.stdout), _text(exc.stderr), timed_out=True)
        except OSError as exc:
            raise ExecError(f"pod {pod_label(endpoint)}: cannot run ip netns exec: {exc}") from exc
        rc = proc.returncode
        missing = _NETNS_EXEC_MISSING.search(proc.stderr or "")
        if rc != 0 and missing:
            rc = EXIT_NOT_FOUND
        elif rc != 0 and f'Cannot open network namespace "{netns}"' in (proc.stderr or ""):
            raise ExecError(f"pod {pod_label(endpoint)}: no network namespace {netns!r}: {proc.stderr.strip()}")
        return ExecResult(rc, proc.stdout, proc.stderr)


def _text(data: Any) -> str:
    """TimeoutExpired carries bytes even when text=True was asked for."""
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


# --- Kubernetes: stream exec ----------------------------------------------------


def exit_status(error_channel: str) -> tuple[int, str]:
    """Exit code and message from the exec error channel (a metav1.Status in YAML/JSON).

    Success -> (0, ""); NonZeroExitCode -> (code, message); an exec that never started
    (e.g. "executable file not found in $PATH") -> (127, message) when the program is missing.
    """
    import yaml

    text = (error_channel or "").strip()
    if not text:
        # The channel closed without a status: the connection dropped before the process ended.
        raise ExecError("exec ended without an exit status (connection lost?)")
    try:
        status = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ExecError(f"unreadable exec status {text[:200]!r}") from exc
    if not isinstance(status, dict):
        raise ExecError(f"unreadable exec status {text[:200]!r}")
    if status.get("status") == "Success":
        return 0, ""
    message = str(status.get("message") or "")
    causes = (status.get("details") or {}).get("causes") or []
    for cause in causes:
        if isinstance(cause, dict) and cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), message
            except (TypeError, ValueError):
                break
    if _RUNTIME_MISSING.search(message):
        return EXIT_NOT_FOUND, message
    raise ExecError(f"exec failed: {message}" if message else f"exec failed: {text[:200]!r}")


def not_ready(error: BaseException) -> bool:
    """Whether an exec failure means the pod or container is not up yet (worth a bounded retry)."""
    status = getattr(error, "status", None)
    if status in (404, 400, 500, 503):
        return True
    text = " ".join(str(part) for part in (getattr(error, "reason", ""), getattr(error, "body", ""), error))
    return bool(_NOT_READY.search(text))


def looks_like_kubeconfig_contents(kubeconfig: str) -> bool:
    """Kubeconfig text (YAML/JSON mapping) rather than a path to a file."""
    import yaml

    try:
        parsed = yaml.safe_load(kubeconfig)
    except yaml.YAMLError:
        return "\n" in kubeconfig
    return isinstance(parsed, dict)


@dataclass(frozen=True)
class KubernetesExecutor:
    """Execs into pods with the official kubernetes client's stream API, as `kubectl exec` does."""

    kubeconfig: Optional[str] = None
    """Kubeconfig contents (YAML text) or a path; None for the ambient kubeconfig (or in-cluster)."""
    context: Optional[str] = None
    """Kubeconfig context; None for the current one."""
    container: Optional[str] = None
    """Container to exec into; None lets the API server pick (fine for single-container pods)."""
    ready_attempts: int = 10
    """How many times to try while the pod or container is not running yet."""
    ready_delay: float = 3.0
    """Seconds between those attempts."""
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    """How to wait between attempts (tests pass a no-op)."""

    def configuration(self) -> Any:
        """A kubernetes Configuration from the kubeconfig given (contents, path) or the ambient one."""
        import yaml
        from kubernetes import config
        from kubernetes.client import Configuration

        cfg = Configuration()
        try:
            if self.kubeconfig is not None and looks_like_kubeconfig_contents(self.kubeconfig):
                config.load_kube_config_from_dict(
                    yaml.safe_load(self.kubeconfig), context=self.context,
                    client_configuration=cfg, persist_config=False)
            elif self.kubeconfig is not None:
                config.load_kube_config(
                    config_file=self.kubeconfig, context=self.context,
                    client_configuration=cfg, persist_config=False)
            else:
                try:
                    config.load_kube_config(context=self.context, client_configuration=cfg, persist_config=False)
                except config.ConfigException:
                    if self.context is not None:
                        raise
                    config.load_incluster_config(client_configuration=cfg)
        except (config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
            where = "the given kubeconfig" if self.kubeconfig is not None else "the ambient kubeconfig"
            context = f" (context {self.context!r})" if self.context else ""
            raise ExecError(f"cannot load {where}{context}: {exc}") from exc
        return cfg

    def run(self, endpoint: Mapping[str, Any], argv: Sequence[str], timeout: float) -> ExecResult:
        from kubernetes.client import ApiClient, CoreV1Api
        from kubernetes.client.rest import ApiException
        from kubernetes.stream import stream
        from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL

        cfg = self.configuration()
        attempts = max(1, self.ready_attempts)
        for attempt in range(1, attempts + 1):
            # One ApiClient per call: stream() swaps the client's transport while it runs,
            # so threads sharing a client would trip over each other.
            api_client = ApiClient(cfg)
            try:
                try:
                    response = stream(
                        CoreV1Api(api_client).connect_get_namespaced_pod_exec,
                        endpoint["pod"], endpoint.get("namespace") or "default",
                        command=list(argv), container=self.container,
                        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
                    )
                except ApiException as exc:
                    if attempt < attempts and not_ready(exc):
                        self.sleep(self.ready_delay)
                        continue
                    tried = f" after {attempt} attempts" if attempt > 1 else ""
                    raise ExecError(
                        f"pod {pod_label(endpoint)}: cannot exec {argv[0]!r}{tried}: {exc.reason or exc}"
                    ) from exc
                try:
                    response.run_forever(timeout=timeout)
                    stdout = response.read_channel(STDOUT_CHANNEL)
                    stderr = response.read_channel(STDERR_CHANNEL)
                    if response.is_open():
                        return ExecResult(None, stdout, stderr, timed_out=True)
                    rc, message = exit_status(response.read_channel(ERROR_CHANNEL))
                    if rc == EXIT_NOT_FOUND and message and message not in stderr:
                        stderr = f"{stderr}{message}\n"
                    return ExecResult(rc, stdout, stderr)
                except ExecError as exc:
                    raise ExecError(f"pod {pod_label(endpoint)}: {argv[0]!r}: {exc}") from exc
                finally:
                    response.close()
            finally:
                api_client.close()
        raise AssertionError("unreachable")  # pragma: no cover


def executor_from_spec(spec: Mapping[str, Any]) -> Executor:
    """Build the executor an `executor` input describes; ValueError naming the bad key otherwise."""
    problems = executor_spec_problems(spec)
    if problems:
        raise ValueError("; ".join(problems))
    if spec["kind"] == "netns":
        return NetnsExecutor()
    return KubernetesExecutor(
        kubeconfig=spec.get("kubeconfig") or None,
        context=spec.get("context") or None,
        container=spec.get("container") or None,
    )


def executor_spec_problems(spec: Any) -> list[str]:
    """Everything wrong with an `executor` input, each naming the key, the value and what is allowed."""
    if not isinstance(spec, Mapping):
        return [f"executor: got {spec!r}; must be an object with a 'kind' of {', '.join(EXECUTOR_KINDS)}"]
    kind = spec.get("kind")
    if kind not in EXECUTOR_KINDS:
        return [f"executor.kind: got {kind!r}; must be one of {', '.join(EXECUTOR_KINDS)}"]
    allowed = ("kind",) if kind == "netns" else ("kind", "kubeconfig", "context", "container")
    problems = [
        f"executor.{key}: got {spec[key]!r}; not a key of a {kind} executor (keys: {', '.join(allowed)})"
        for key in spec if key not in allowed
    ]
    for key in allowed[1:]:
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            shown = "<secret>" if key == "kubeconfig" else repr(value)
            problems.append(f"executor.{key}: got {shown}; must be a string or null")
    return problems
