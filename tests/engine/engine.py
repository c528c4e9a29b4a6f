"""Drives the Pulumi CLI built by scripts/bootstrap-engine on a throw-away copy of this project.

Every call is an argv list with a timeout, `--non-interactive`, the environment of
`scripts/engine-env` (sourced fresh once per session, so a swapped language host and whatever
extra variables it exports are picked up), a `file://` backend in a temp dir and a random
passphrase. The wall time of each call is printed (run pytest with -s) and kept in TIMINGS for
the session summary.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_ENV = "MACVLAN_TESTBED_REQUIRE_ENGINE"
ENGINE_ENV_SCRIPT = ROOT / "scripts" / "engine-env"
REPO_VENV = ROOT / "venv"
# What a project copy needs to run: the program, its components and the pins.
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt")
PROJECT_DIRS = ("components",)
DEFAULT_TIMEOUT = 300.0
# Ambient settings that must never steer a test stack somewhere else.
SCRUBBED = (
    "PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_STACK", "PULUMI_ORG", "KUBECONFIG",
)

# (argv shown to the user, return code, seconds) of every pulumi call in this session.
TIMINGS: List[Tuple[str, int, float]] = []


def tools_dir() -> Path:
    """Where scripts/bootstrap-engine put its outputs (ENGINE_TOOLS overrides, as in engine-env)."""
    return Path(os.environ.get("ENGINE_TOOLS") or ROOT / ".tools")


def require_tool(path: Path, what: str, hint: str) -> None:
    """Skip when a built tool is missing, or fail when MACVLAN_TESTBED_REQUIRE_ENGINE=1 demands it."""
    if os.access(path, os.X_OK):
        return
    reason = f"{what}: {path} is missing (build it with {hint})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def require_engine() -> None:
    require_tool(tools_dir() / "bin" / "pulumi", "engine tests", "scripts/bootstrap-engine")
    if not (REPO_VENV / "bin" / "python").exists():
        pytest.fail(f"engine tests need the repo's venv at {REPO_VENV} (scripts/setup)", pytrace=False)


def engine_environment() -> Dict[str, str]:
    """os.environ minus ambient Pulumi/Kubernetes targets, plus what `source scripts/engine-env` sets."""
    base = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    done = subprocess.run(
        ["bash", "-c", 'source "$1" && env -0', "engine-env", str(ENGINE_ENV_SCRIPT)],
        env=base, capture_output=True, timeout=30, check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"sourcing {ENGINE_ENV_SCRIPT} failed ({done.returncode}): "
                    f"{done.stderr.decode(errors='replace')}", pytrace=False)
    env: Dict[str, str] = {}
    for entry in done.stdout.split(b"\0"):
        if b"=" in entry:
            key, _, value = entry.decode(errors="surrogateescape").partition("=")
            env[key] = value
    for key in SCRUBBED:
        env.pop(key, None)
    for key in ("_", "SHLVL", "PWD", "OLDPWD"):  # bash's own; the CLI runs with cwd= the project
        env.pop(key, None)
    return env


def copy_project(dest: Path) -> Path:
    """Pulumi.yaml, __main__.py, components/ and requirements.txt, with `venv` -> the repo's venv."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, dest / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "venv").symlink_to(REPO_VENV, target_is_directory=True)
    return dest


@dataclass
class Result:
    args: Tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Pulumi:
    """The CLI bound to one project copy, one file:// backend and one passphrase."""

    project: Path
    state: Path
    base_env: Dict[str, str]
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    transcript: List[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.env = dict(self.base_env)
        self.env["PULUMI_BACKEND_URL"] = f"file://{self.state}"
        self.env["PULUMI_CONFIG_PASSPHRASE"] = self.passphrase
        self.binary = str(tools_dir() / "bin" / "pulumi")

    def __call__(self, *args: str, timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> Result:
        argv = [self.binary, *args, "--non-interactive", "--color", "never"]
        shown = "pulumi " + " ".join(args)
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=self.project, env=self.env, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            seconds = time.monotonic() - started
            TIMINGS.append((shown, -1, seconds))
            print(f"[engine] $ {shown}: TIMED OUT after {seconds:.2f} s", flush=True)
            out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
            pytest.fail(f"`{shown}` timed out after {timeout} s; output so far:\n{out}", pytrace=False)
        seconds = time.monotonic() - started
        result = Result(tuple(args), done.returncode, done.stdout, done.stderr, seconds)
        TIMINGS.append((shown, done.returncode, seconds))
        print(f"[engine] $ {shown}  -> rc {done.returncode} in {seconds:.2f} s", flush=True)
        self.transcript.append(f"$ {shown}   # rc {done.returncode}, {seconds:.2f} s\n{result.output}")
        if check and done.returncode != 0:
            pytest.fail(f"`{shown}` failed with rc {done.returncode} after {seconds:.2f} s:\n"
                        f"{result.output}", pytrace=False)
        return result


def save_transcript(pulumi: Pulumi, path: Path) -> None:
    """Every command of one stack with its full output, kept with pytest's temp dirs."""
    path.write_text("\n".join(pulumi.transcript))
    print(f"[engine] transcript: {path}", flush=True)


def random_suffix() -> str:
    return secrets.token_hex(3)


def steps_by_op(preview_json: Dict[str, Any]) -> Dict[str, List[str]]:
    """`pulumi preview --json` steps grouped by op: {"update": [urn, ...], "same": [...], ...}."""
    grouped: Dict[str, List[str]] = {}
    for step in preview_json.get("steps") or []:
        grouped.setdefault(step["op"], []).append(step["urn"])
    return grouped


def urn_type_and_name(urn: str) -> Tuple[str, str]:
    """urn:pulumi:<stack>::<project>::<parent$...$type>::<name> -> (type, name)."""
    parts = urn.split("::")
    return parts[-2].split("$")[-1], parts[-1]


def summarize_timings(rows: Sequence[Tuple[str, int, float]]) -> List[str]:
    return [f"{seconds:8.2f} s  rc {rc:>2}  {shown}" for shown, rc, seconds in rows]
