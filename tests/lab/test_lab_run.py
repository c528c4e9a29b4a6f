"""Commands run as argv with a timeout; every failure is a LabError naming command, rc and stderr."""

from __future__ import annotations

import pickle
import sys

import pytest

from components.lab.errors import LabError
from components.lab.run import run

PY = sys.executable


def test_shell_strings_are_refused() -> None:
    with pytest.raises(TypeError, match="argv must be a non-empty list of str"):
        run("echo hi")  # type: ignore[arg-type]


def test_nonzero_exit_names_command_rc_and_stderr() -> None:
    with pytest.raises(LabError) as info:
        run([PY, "-c", "import sys; sys.stderr.write('boom'); sys.exit(3)"])
    assert info.value.rc == 3
    assert info.value.stderr == "boom"
    assert info.value.argv[0] == PY
    assert "rc=3" in str(info.value) and "stderr: boom" in str(info.value)


def test_timeout_is_a_lab_error() -> None:
    with pytest.raises(LabError, match=r"timed out after 0.2s") as info:
        run([PY, "-c", "import time; time.sleep(5)"], timeout=0.2)
    assert info.value.rc is None


def test_missing_binary_is_a_lab_error() -> None:
    with pytest.raises(LabError, match="could not start command"):
        run(["/nonexistent/mvtb-binary"])


def test_check_false_returns_the_failure() -> None:
    assert run([PY, "-c", "raise SystemExit(2)"], check=False).returncode == 2


def test_lab_error_survives_pickling() -> None:
    err = LabError(["ip", "link"], 1, "nope", reason="why", cni_error={"msg": "m"})
    back = pickle.loads(pickle.dumps(err))
    assert (back.argv, back.rc, back.stderr, back.reason, back.cni_error) == (("ip", "link"), 1, "nope", "why", {"msg": "m"})
    assert str(back) == str(err)
