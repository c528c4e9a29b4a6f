"""ConnectivityCheck as a program registers it: type, inputs, declared outputs, a secret executor."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run under the SDK's mocks in a fresh interpreter: set_mocks is process-global.
PROGRAM = r'''
import base64, json
import dill
import pulumi
from pulumi.runtime.mocks import MockMonitor

registered = []

class Monitor(MockMonitor):
    def RegisterResource(self, request):
        registered.append({"type": request.type, "name": request.name,
                           "additionalSecretOutputs": list(request.additionalSecretOutputs)})
        return super().RegisterResource(request)

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        from pulumi.runtime import rpc
        provider = rpc.unwrap_rpc_secret(args.inputs["__provider"])
        registered.append({"inputs": {k: rpc.unwrap_rpc_secret(v) for k, v in args.inputs.items() if k != "__provider"},
                           "secret_inputs": sorted(k for k, v in args.inputs.items() if rpc.is_rpc_secret(v)),
                           "provider_class": type(dill.loads(base64.b64decode(provider))).__name__})
        return f"{args.name}-id", {**args.inputs, "passed": True, "summary": ["ok"]}
    def call(self, args):
        return {}

mocks = Mocks()
pulumi.runtime.set_mocks(mocks, monitor=Monitor(mocks), preview=False)

from components.checks.provider import ConnectivityCheck, ConnectivityCheckArgs

check = ConnectivityCheck("checks", ConnectivityCheckArgs(
    endpoints=[{"pod": "alpine1", "node": "w0", "nad": "macvlan-w0-ens16f0", "namespace": "default",
                "ranges": {"ipv4": ["10.1.10.10-10.1.10.19"]}}],
    families=["ipv4"],
    executor={"kind": "kubernetes", "kubeconfig": pulumi.Output.secret("apiVersion: v1\nkind: Config\n"),
              "context": "lab", "container": "testbed"},
    trigger="1",
))

@pulumi.runtime.test
def outputs():
    def show(values):
        passed, summary, secret = values
        print(json.dumps({"registered": registered, "passed": passed, "summary": summary}))
    return pulumi.Output.all(check.passed, check.summary, pulumi.Output.from_input(True)).apply(show)

outputs()
'''


def test_connectivity_check_registers_its_inputs_with_the_executor_secret() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    registration = next(r for r in seen["registered"] if r.get("name") == "checks")
    assert registration == {"type": "pulumi-python:dynamic/checks:ConnectivityCheck", "name": "checks",
                            "additionalSecretOutputs": ["executor"]}
    (resource,) = [r for r in seen["registered"] if "inputs" in r]
    assert resource["provider_class"] == "ConnectivityCheckProvider"
    # The kubeconfig makes the whole executor secret; the serialized provider is always one.
    assert resource["secret_inputs"] == ["__provider", "executor"]
    assert resource["inputs"] == {
        "endpoints": [{"pod": "alpine1", "node": "w0", "nad": "macvlan-w0-ens16f0", "namespace": "default",
                       "ranges": {"ipv4": ["10.1.10.10-10.1.10.19"]}}],
        "families": ["ipv4"], "settings": {},
        "executor": {"kind": "kubernetes", "kubeconfig": "apiVersion: v1\nkind: Config\n", "context": "lab",
                     "container": "testbed"},
        "trigger": "1", "failOnError": True,
    }
    assert (seen["passed"], seen["summary"]) == (True, ["ok"])
