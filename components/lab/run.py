"""Runs external commands as argv lists with a timeout, turning every failure into LabError."""

from __future__ import annotations

import subprocess
from typing import Mapping, Optional, Sequence

from components.lab.errors import LabError

DEFAULT_TIMEOUT = 10.0


def run(
    argv: Sequence[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    input: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run argv (never a shell string) and raise LabError on timeout, missing binary or rc != 0."""
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be a non-empty list of str, got {argv!r}")
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
    args = list(argv)
    try:
        proc = subprocess.run(
            args,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else None,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        raise LabError(args, None, stderr, reason=f"timed out after {timeout:g}s") from exc
    except OSError as exc:
        raise LabError(args, None, str(exc), reason="could not start command") from exc
    if check and proc.returncode != 0:
        raise LabError(args, proc.returncode, proc.stderr)
    return proc
