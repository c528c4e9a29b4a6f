"""The `lab` stack through the real CLI: preview, up (checks pass), outputs, no-op, trigger, destroy.

One stack per module run, with a random name (lab-<hex6>, so its lab id and every netns name
are unique on the host) and a copy of Pulumi.lab.yaml with fast checks. The steps run in file
order and share the stack; a step whose precondition failed fails with that reason. A finalizer
always destroys, removes the stack and, as a last resort, deletes whatever the lab left.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Set

import pytest
import yaml

from components.lab.down import down
from components.lab.leaks import find_leftovers
from components.lab.names import Lab
from components.settings import lab_id_for_stack
from tests.engine import engine
from tests.lab.conftest import require_lab

pytestmark = [pytest.mark.engine, pytest.mark.lab]

FAST_CHECKS = {"pingCount": 2, "iperfSeconds": 1}
COMPONENT = "macvlan-testbed:index:MacvlanTestbed"
LAB_NODE = "pulumi-python:dynamic/lab:LabNode"
LAB_WIRE = "pulumi-python:dynamic/lab:LabWire"
LAB_POD = "pulumi-python:dynamic/lab:LabPod"
CHECK = "pulumi-python:dynamic/checks:ConnectivityCheck"
PLANNED = {
    (COMPONENT, "testbed"),
    (LAB_NODE, "testbed-node-w0"), (LAB_NODE, "testbed-node-w1"),
    (LAB_WIRE, "testbed-wire"),
    (LAB_POD, "testbed-pod-w0"), (LAB_POD, "testbed-pod-w1"),
    (CHECK, "testbed-checks"),
}
OUTPUT_KEYS = {"plan", "nads", "pods", "checks", "passed", "summary"}


class LabStack:
    def __init__(self, pulumi: engine.Pulumi, name: str) -> None:
        self.pulumi = pulumi
        self.name = name
        self.lab = Lab(lab_id_for_stack(name))
        self.done: Set[str] = set()

    def need(self, *steps: str) -> None:
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.fail(f"not run: earlier step(s) {missing} did not succeed", pytrace=False)


@pytest.fixture(scope="module")
def lab_stack(engine_env: Dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    require_lab()
    work = tmp_path_factory.mktemp("engine-lab")
    name = f"lab-{engine.random_suffix()}"
    project = engine.copy_project(work / "project")
    stack_config = yaml.safe_load((engine.ROOT / "Pulumi.lab.yaml").read_text())
    stack_config["config"]["macvlan-testbed:checks"] = dict(FAST_CHECKS)
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(stack_config, sort_keys=False))
    pulumi = engine.Pulumi(project, work / "state", engine_env)
    stack = LabStack(pulumi, name)
    assert stack.lab.lab_id == name, "the lab id must be the stack name (<= 12 chars of [a-z0-9-])"
    print(f"\n[engine] lab stack {name} (lab id {stack.lab.lab_id}) in {project}", flush=True)
    assert not find_leftovers(stack.lab), "a lab with this random id already exists"
    pulumi("stack", "init", name)
    try:
        yield stack
    finally:
        if "destroy" not in stack.done:
            pulumi("destroy", "--yes", "--skip-preview", check=False)
        pulumi("stack", "rm", name, "--yes", "--force", check=False)
        if find_leftovers(stack.lab):
            print(f"[engine] last resort: down({stack.lab.lab_id}) removed "
                  f"{down(stack.lab).describe()}", flush=True)
        engine.save_transcript(pulumi, work / "transcript.txt")


def planned_creates(text: str) -> Set[tuple]:
    """`+  <type> <name> create` lines of a text preview."""
    return {(m.group(1), m.group(2))
            for m in re.finditer(r"^\s*\+\s+(\S+:\S+)\s+(\S+)\s+create\b", text, re.MULTILINE)}


def test_preview_lists_the_planned_resources(lab_stack: LabStack) -> None:
    result = lab_stack.pulumi("preview")
    planned = planned_creates(result.stdout)
    planned.discard(("pulumi:pulumi:Stack", f"macvlan-testbed-{lab_stack.name}"))
    assert planned == PLANNED, result.stdout
    assert re.search(r"\+ 8 to create", result.stdout), result.stdout
    assert not find_leftovers(lab_stack.lab), "preview must not touch the host"
    lab_stack.done.add("preview")


def test_up_creates_the_lab_and_the_checks_pass(lab_stack: LabStack) -> None:
    result = lab_stack.pulumi("up", "--yes", "--skip-preview")
    assert "connectivity-check: passed: 4 checks" in result.output, result.output
    assert re.search(r"\+ 8 created", result.stdout), result.stdout
    there = find_leftovers(lab_stack.lab)
    prefix = lab_stack.lab.prefix
    assert set(there.netns) == {prefix + m for m in ("w0", "w1", "alpine1", "alpine2")}, there.describe()
    assert len(there.leases) >= 4, there.describe()  # v4 + v6 per pod, in each node's own dataDir
    lab_stack.done.add("up")


def test_stack_outputs_hold_the_results(lab_stack: LabStack) -> None:
    lab_stack.need("up")
    outputs = lab_stack.pulumi("stack", "output", "--json").json()
    assert set(outputs) == OUTPUT_KEYS, sorted(outputs)
    assert outputs["passed"] is True
    assert len(outputs["summary"]) == 4, outputs["summary"]
    assert all(" -> " in line for line in outputs["summary"])
    assert outputs["checks"]["passed"] is True
    assert {(c["client"], c["server"], c["family"]) for c in outputs["checks"]["checks"]} == {
        ("alpine1", "alpine2", "ipv4"), ("alpine1", "alpine2", "ipv6"),
        ("alpine2", "alpine1", "ipv4"), ("alpine2", "alpine1", "ipv6")}
    assert [p["node"] for p in outputs["pods"]] == ["w0", "w1"]
    assert outputs["plan"]["w1"]["ipv4"]["ranges"] == ["10.1.10.20-10.1.10.29"]
    assert [n["name"] for n in outputs["nads"]] == ["macvlan-w0-ens16f0", "macvlan-w1-ens16f0"]
    lab_stack.done.add("outputs")


def test_second_preview_and_up_change_nothing(lab_stack: LabStack) -> None:
    lab_stack.need("up")
    preview = lab_stack.pulumi("preview", "--expect-no-changes", "--diff", check=False)
    assert preview.returncode == 0, f"spurious diff after up:\n{preview.output}"
    up = lab_stack.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", check=False)
    assert up.returncode == 0, f"spurious change on a second up:\n{up.output}"
    assert "connectivity-check:" not in up.output, "a no-op up must not re-run the checks"
    lab_stack.done.add("no-op")


def test_new_trigger_reruns_only_the_checks(lab_stack: LabStack) -> None:
    lab_stack.need("up")
    pulumi = lab_stack.pulumi
    pulumi("config", "set", "--path", "checks.trigger", "run-2")

    preview = pulumi("preview", "--json").json()
    ops = engine.steps_by_op(preview)
    changed = {op: urns for op, urns in ops.items() if op != "same"}
    assert list(changed) == ["update"] and len(changed["update"]) == 1, changed
    assert engine.urn_type_and_name(changed["update"][0]) == (CHECK, "testbed-checks")
    # The steps list only what changes (and the stack); the summary counts the rest.
    assert preview["changeSummary"] == {"same": 7, "update": 1}, preview["changeSummary"]
    step = next(s for s in preview["steps"] if s["op"] == "update")
    old, new = step["oldState"]["inputs"], step["newState"]["inputs"]
    assert {k for k in set(old) | set(new) if old.get(k) != new.get(k)} == {"trigger"}, (old, new)
    assert new["trigger"] == "run-2"

    up = pulumi("up", "--yes", "--skip-preview", "--json")
    events = [json.loads(line) for line in up.stdout.splitlines() if line.strip()]
    finished: List[tuple] = [
        (e["resOutputsEvent"]["metadata"]["op"], *engine.urn_type_and_name(e["resOutputsEvent"]["metadata"]["urn"]))
        for e in events if "resOutputsEvent" in e]
    assert [f for f in finished if f[0] != "same"] == [("update", CHECK, "testbed-checks")], finished
    summary = next(e["summaryEvent"] for e in events if "summaryEvent" in e)
    assert summary["result"] == "succeeded" and summary["resourceChanges"] == {"same": 7, "update": 1}, summary
    messages = "".join(e["diagnosticEvent"]["message"] for e in events if "diagnosticEvent" in e)
    assert "connectivity-check: passed: 4 checks" in messages
    assert pulumi("stack", "output", "passed", "--json").json() is True
    lab_stack.done.add("trigger")


def test_destroy_leaves_no_namespace_link_or_lease(lab_stack: LabStack) -> None:
    lab_stack.need("up")
    result = lab_stack.pulumi("destroy", "--yes", "--skip-preview")
    assert re.search(r"- 8 deleted", result.stdout), result.stdout
    lab_stack.done.add("destroy")
    left = find_leftovers(lab_stack.lab)
    assert not left, left.describe()
    assert not any(left.links.values()) and not left.leases
