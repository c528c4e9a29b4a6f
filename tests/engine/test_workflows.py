"""The GitHub workflows: actionlint (built by scripts/bootstrap-actionlint) and their key settings."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml

from tests.engine import engine

WORKFLOWS = engine.ROOT / ".github" / "workflows"
PULUMI_ACTION = "pulumi/actions@v6"


def actionlint() -> str:
    path = engine.tools_dir() / "bin" / "actionlint"
    engine.require_tool(path, "the workflow lint", "scripts/bootstrap-actionlint")
    return str(path)


def lint(binary: str, *files: Path) -> subprocess.CompletedProcess:
    # shellcheck/pyflakes are used by actionlint when on PATH; not required.
    return subprocess.run([binary, "-no-color", *map(str, files)], cwd=engine.ROOT,
                          capture_output=True, text=True, timeout=60, check=False)


def load(name: str) -> Dict[str, Any]:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in doc:  # YAML 1.1: the key `on` reads as True
        doc["on"] = doc.pop(True)
    return doc


def steps(doc: Dict[str, Any]) -> List[Dict[str, Any]]:
    (job,) = doc["jobs"].values()
    return job["steps"]


def pulumi_step(doc: Dict[str, Any]) -> Dict[str, Any]:
    (step,) = [s for s in steps(doc) if s.get("uses") == PULUMI_ACTION]
    return step


def test_actionlint_passes() -> None:
    binary = actionlint()
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["preview.yml", "up.yml"]
    done = lint(binary, *files)
    print(f"\n[actionlint] {' '.join(f.name for f in files)}: rc {done.returncode}\n{done.stdout}{done.stderr}")
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """Negative control: a misspelt pulumi/actions input and permission scope are reported."""
    binary = actionlint()
    text = (WORKFLOWS / "preview.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("comment-on-pr: true", "comment-on-prr: true")
                      .replace("pull-requests: write", "pull-request: write"))
    done = lint(binary, broken)
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"comment-on-prr" is not defined in action "pulumi/actions@v6"' in done.stdout
    assert 'unknown permission scope "pull-request"' in done.stdout


def test_preview_workflow_comments_a_preview_on_pull_requests() -> None:
    doc = load("preview.yml")
    assert set(doc["on"]) == {"pull_request"}
    assert doc["permissions"] == {"contents": "read", "pull-requests": "write"}
    with_ = pulumi_step(doc)["with"]
    assert with_["command"] == "preview"
    assert with_["comment-on-pr"] is True
    assert with_["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
    assert with_["stack-name"] == "${{ vars.PULUMI_STACK }}"


def test_up_workflow_runs_up_on_push_to_main() -> None:
    doc = load("up.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    assert doc["permissions"] == {"contents": "read"}
    assert doc["concurrency"]["cancel-in-progress"] is False
    with_ = pulumi_step(doc)["with"]
    assert with_["command"] == "up"
    assert with_["stack-name"] == "${{ vars.PULUMI_STACK }}"


@pytest.mark.parametrize("name", ["preview.yml", "up.yml"])
def test_checkout_python_venv_then_pulumi(name: str) -> None:
    doc = load(name)
    uses = [s.get("uses", s.get("name")) for s in steps(doc)]
    order = [uses.index(x) for x in ("actions/checkout@v5", "actions/setup-python@v6",
                                     "Install dependencies into venv", PULUMI_ACTION)]
    assert order == sorted(order), uses
    setup = next(s for s in steps(doc) if s.get("uses") == "actions/setup-python@v6")
    assert setup["with"]["python-version"] == "3.11"
    install = next(s for s in steps(doc) if s.get("name") == "Install dependencies into venv")
    assert "python -m venv venv" in install["run"]
    assert "venv/bin/python -m pip install -r requirements.txt" in install["run"]
    env = pulumi_step(doc)["env"]
    assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    # Pulumi.yaml's virtualenv must be the one the workflow fills.
    project = yaml.safe_load((engine.ROOT / "Pulumi.yaml").read_text())
    assert project["runtime"]["options"]["virtualenv"] == "venv"
