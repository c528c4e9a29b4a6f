"""The `dev` stack through the real CLI with renderYamlToDirectory: no cluster, no root.

`pulumi up` writes the manifests pulumi-kubernetes would apply; they are checked against the
seed runbook (NAD config), the Kubernetes 1.31 Pod schema (kubernetes-validate, strict) and the
upstream NetworkAttachmentDefinition CRD schema (jsonschema). A bad config must fail
`pulumi preview` with the program's one clear message and no Python traceback.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components import cni
from tests.engine import engine
from tests.unit.test_cni import SEED_W0_CONFIG

pytestmark = pytest.mark.engine

CRD_FILE = Path(__file__).parent / "testdata" / "networks-crd.yaml"
CRD_SHA256 = "2c83987cbc34c16e7b49921237c39151008e9239304ef2dc7163b92931ef1880"
K8S_VERSION = "1.31"
NODES = {"w0": ("alpine1", "macvlan-w0-ens16f0"), "w1": ("alpine2", "macvlan-w1-ens16f0")}


def dev_stack_file(name: str, project: Path) -> None:
    """Pulumi.<name>.yaml: the repo's Pulumi.dev.yaml config, verbatim."""
    (project / f"Pulumi.{name}.yaml").write_text((engine.ROOT / "Pulumi.dev.yaml").read_text())


@pytest.fixture(scope="module")
def rendered(engine_env: Dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    work = tmp_path_factory.mktemp("engine-dev")
    name = f"dev-{engine.random_suffix()}"
    project = engine.copy_project(work / "project")
    dev_stack_file(name, project)
    out_dir = work / "rendered"
    pulumi = engine.Pulumi(project, work / "state", engine_env)
    pulumi("stack", "init", name)
    state: Dict[str, Any] = {"pulumi": pulumi, "dir": out_dir, "destroyed": False}
    try:
        pulumi("config", "set", "renderYamlToDirectory", str(out_dir))
        state["up"] = pulumi("up", "--yes")
        state["docs"] = [doc for path in sorted(out_dir.rglob("*.yaml"))
                         for doc in yaml.safe_load_all(path.read_text()) if doc]
        state["outputs"] = pulumi("stack", "output", "--json").json()
        yield state
    finally:
        if not state["destroyed"]:
            pulumi("destroy", "--yes", "--skip-preview", check=False)
        pulumi("stack", "rm", name, "--yes", "--force", check=False)
        engine.save_transcript(pulumi, work / "transcript.txt")


def of_kind(docs: List[Dict[str, Any]], kind: str) -> Dict[str, Dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc.get("kind") == kind}


def test_up_renders_two_nads_and_two_pods(rendered: Dict[str, Any]) -> None:
    kinds = sorted((doc["kind"], doc["metadata"]["name"]) for doc in rendered["docs"])
    assert kinds == [("NetworkAttachmentDefinition", "macvlan-w0-ens16f0"),
                     ("NetworkAttachmentDefinition", "macvlan-w1-ens16f0"),
                     ("Pod", "alpine1"), ("Pod", "alpine2")], kinds


def test_nad_configs_are_the_seeds(rendered: Dict[str, Any]) -> None:
    nads = of_kind(rendered["docs"], cni.NAD_KIND)
    w0 = json.loads(nads["macvlan-w0-ens16f0"]["spec"]["config"])
    assert w0 == json.loads(SEED_W0_CONFIG)
    w1 = json.loads(nads["macvlan-w1-ens16f0"]["spec"]["config"])
    expected = json.loads(SEED_W0_CONFIG)
    expected["ipam"]["ranges"] = [
        [{"subnet": "10.1.10.0/24", "rangeStart": "10.1.10.20", "rangeEnd": "10.1.10.29"}],
        [{"subnet": "fd10::/64", "rangeStart": "fd10::20", "rangeEnd": "fd10::29"}],
    ]
    assert w1 == expected
    for doc in nads.values():
        assert doc["apiVersion"] == cni.NAD_API_VERSION and doc["metadata"]["namespace"] == "default"


def test_pods_are_pinned_with_the_networks_annotation(rendered: Dict[str, Any]) -> None:
    pods = of_kind(rendered["docs"], "Pod")
    for node, (pod, nad) in NODES.items():
        doc = pods[pod]
        assert doc["spec"]["nodeName"] == node
        annotation = doc["metadata"]["annotations"][cni.NETWORKS_ANNOTATION]
        assert json.loads(annotation) == [{"name": nad, "namespace": "default", "interface": "net1"}]
        assert doc["metadata"]["namespace"] == "default"


def test_pods_validate_against_kubernetes_1_31(rendered: Dict[str, Any]) -> None:
    pods = of_kind(rendered["docs"], "Pod")
    assert len(pods) == 2
    for doc in pods.values():
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    # The validator is not a rubber stamp: an unknown field fails in strict mode.
    broken = copy.deepcopy(next(iter(pods.values())))
    broken["spec"]["nodeNmae"] = "w0"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def nad_validator() -> Any:
    """Validates a NAD manifest like the API server would with the upstream CRD.

    The CRD's openAPIV3Schema covers `spec` only; the API server adds apiVersion, kind and
    metadata, and prunes any field the schema does not declare (structural schema, v1 CRD).
    Pruned fields would vanish silently, so here undeclared fields are errors instead.
    """
    text = CRD_FILE.read_text()
    assert hashlib.sha256(text.encode()).hexdigest() == CRD_SHA256, "testdata CRD changed; see README"
    crd = yaml.safe_load(text)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    version = next(v for v in crd["spec"]["versions"] if v["served"] and f"{group}/{v['name']}" == cni.NAD_API_VERSION)
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def close(node: Dict[str, Any]) -> None:
        if node.get("type") == "object" and "properties" in node \
                and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for child in node.get("properties", {}).values():
            close(child)

    close(schema)
    schema["properties"].update({
        "apiVersion": {"type": "string", "enum": [cni.NAD_API_VERSION]},
        "kind": {"type": "string", "enum": [kind]},
        "metadata": {"type": "object", "required": ["name", "namespace"],  # scope: Namespaced
                     "properties": {"name": {"type": "string", "maxLength": 253,
                                             "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
                                    "namespace": {"type": "string"}}},
    })
    assert crd["spec"]["scope"] == "Namespaced"
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_nads_validate_against_the_upstream_crd_schema(rendered: Dict[str, Any]) -> None:
    validator = nad_validator()
    nads = of_kind(rendered["docs"], cni.NAD_KIND)
    assert len(nads) == 2
    for doc in nads.values():
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
        assert not errors, errors
    # Negative controls: config as an object, and a field the API server would prune.
    sample = next(iter(nads.values()))
    as_object = copy.deepcopy(sample)
    as_object["spec"]["config"] = json.loads(sample["spec"]["config"])
    pruned = copy.deepcopy(sample)
    pruned["spec"]["configs"] = sample["spec"]["config"]
    for bad in (as_object, pruned):
        assert list(validator.iter_errors(bad)), bad


def test_stack_outputs_match_the_manifests(rendered: Dict[str, Any]) -> None:
    outputs = rendered["outputs"]
    # Rendering only: nothing to exec into, so no checks and no verdict.
    assert set(outputs) == {"plan", "nads", "pods"}, sorted(outputs)
    nads = of_kind(rendered["docs"], cni.NAD_KIND)
    for view in outputs["nads"]:
        assert view["config"] == json.loads(nads[view["name"]]["spec"]["config"])
    assert [(p["name"], p["node"]) for p in outputs["pods"]] == [("alpine1", "w0"), ("alpine2", "w1")]
    assert outputs["plan"]["w1"]["ipv6"]["ranges"] == ["fd10::20-fd10::29"]


def test_destroy_removes_the_rendered_manifests(rendered: Dict[str, Any]) -> None:
    result = rendered["pulumi"]("destroy", "--yes", "--skip-preview")
    rendered["destroyed"] = True
    assert "deleted" in result.stdout
    assert not list(rendered["dir"].rglob("*.yaml"))


def test_bad_config_fails_preview_with_one_clear_message(
        engine_env: Dict[str, str], tmp_path: Path) -> None:
    name = f"bad-{engine.random_suffix()}"
    project = engine.copy_project(tmp_path / "project")
    dev_stack_file(name, project)
    pulumi = engine.Pulumi(project, tmp_path / "state", engine_env)
    pulumi("stack", "init", name)
    try:
        pulumi("config", "set", "mode", "macvtap")
        result = pulumi("preview", check=False)
        assert result.returncode != 0, result.output
        wanted = "mode: got 'macvtap'; must be one of bridge, private, vepa, passthru"
        assert "macvlan-testbed: 1 configuration problem:" in result.output, result.output
        assert wanted in result.output, result.output
        # Once under Diagnostics (the progress lines show only the first line of a message).
        assert result.output.count(wanted) == 1, result.output
        assert "Traceback" not in result.output, result.output
        assert 'File "' not in result.output, result.output
    finally:
        pulumi("stack", "rm", name, "--yes", "--force", check=False)
