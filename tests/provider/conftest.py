"""Provider-tier fixtures: the SDK's provider server over gRPC, and private network namespaces.

Tests marked `lab` need root (network namespaces); they skip without it, or fail when
MACVLAN_TESTBED_REQUIRE_LAB=1 demands them. (The suite on real CNI pods is in tests/lab.)
"""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.lab.conftest import REQUIRE_ENV  # noqa: E402


def require_root() -> None:
    """Skip without root, or fail when MACVLAN_TESTBED_REQUIRE_LAB=1 demands the lab."""
    if os.geteuid() == 0:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but provider lab tests need root (network namespaces)", pytrace=False)
    pytest.skip("provider lab tests need root (network namespaces)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every test marked `lab` here needs root."""
    if item.get_closest_marker("lab") is not None:
        require_root()


@dataclass
class ProviderServer:
    """`python -m pulumi.dynamic` as the engine starts it, with its stderr collected."""

    process: subprocess.Popen
    port: int
    stderr_lines: List[str] = field(default_factory=list)

    def stderr(self) -> str:
        return "".join(self.stderr_lines)


@pytest.fixture(scope="module")
def provider_server() -> Iterator[ProviderServer]:
    """The SDK's own provider server; it prints its port as the first stdout line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PULUMI_PROJECT": "macvlan-testbed"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.dynamic"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), f"no port from the provider server: {line!r}"
        server = ProviderServer(process, int(line))
        drain = threading.Thread(target=lambda: server.stderr_lines.extend(iter(process.stderr.readline, "")),
                                 daemon=True)
        drain.start()
        yield server
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def stub(provider_server: ProviderServer) -> Iterator[object]:
    """A ResourceProvider client on the server, as the engine holds one."""
    import grpc
    from pulumi.runtime.proto import provider_pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{provider_server.port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    try:
        yield provider_pb2_grpc.ResourceProviderStub(channel)
    finally:
        channel.close()


def run(argv: List[str], stdin: str = "") -> None:
    """A setup command; its output goes into the failure when it fails."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{argv} failed (rc {proc.returncode}): {proc.stderr.strip()}")


@dataclass(frozen=True)
class PodPair:
    """Two private namespaces joined by a veth pair named net1 on both ends (the seed's two pods)."""

    a: str
    b: str

    def endpoints(self) -> List[dict]:
        return [
            {"pod": "alpine1", "node": "w0", "nad": "macvlan-w0-ens16f0", "namespace": "default", "netns": self.a,
             "ranges": {"ipv4": ["10.1.10.10-10.1.10.19"], "ipv6": ["fd10::10-fd10::19"]}},
            {"pod": "alpine2", "node": "w1", "nad": "macvlan-w1-ens16f0", "namespace": "default", "netns": self.b,
             "ranges": {"ipv4": ["10.1.10.20-10.1.10.29"], "ipv6": ["fd10::20-fd10::29"]}},
        ]


def _remove_netns(name: str) -> None:
    """Stop what still runs inside (our own iperf3 servers at most), then delete the namespace."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False).stdout
    for pid in pids.split():
        try:
            os.kill(int(pid), 9)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@pytest.fixture
def pod_pair(request: pytest.FixtureRequest) -> PodPair:
    """alpine1 (10.1.10.11, fd10::11) and alpine2 (10.1.10.21, fd10::21), only inside fresh namespaces."""
    require_root()
    tag = secrets.token_hex(4)
    pair = PodPair(f"mvtb-ck-{tag}-a", f"mvtb-ck-{tag}-b")
    for name in (pair.a, pair.b):
        request.addfinalizer(lambda name=name: _remove_netns(name))
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])
    # Created straight inside the namespaces: nothing of it ever exists in the root namespace.
    run(["ip", "link", "add", "net1", "netns", pair.a, "type", "veth", "peer", "name", "net1", "netns", pair.b])
    for name, host in ((pair.a, "11"), (pair.b, "21")):
        run(["ip", "-n", name, "addr", "add", f"10.1.10.{host}/24", "dev", "net1"])
        run(["ip", "-n", name, "addr", "add", f"fd10::{host}/64", "dev", "net1", "nodad"])
        run(["ip", "-n", name, "link", "set", "net1", "up"])
    return pair
