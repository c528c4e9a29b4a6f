"""The lab's one domain exception, so callers catch a single type for every failed step."""

from __future__ import annotations

import shlex
from typing import Any, Mapping, Optional, Sequence


class LabError(Exception):
    """A lab step failed; names the command, its exit status and what it printed on stderr."""

    def __init__(
        self,
        argv: Sequence[str],
        rc: Optional[int],
        stderr: str,
        reason: str = "",
        cni_error: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.argv = tuple(argv)
        self.rc = rc
        self.stderr = stderr
        self.reason = reason
        self.cni_error = dict(cni_error) if cni_error is not None else None
        super().__init__(self._render())

    def _render(self) -> str:
        """One line a reader can act on: what failed, the command, rc and stderr."""
        parts = [self.reason] if self.reason else []
        if self.argv:
            status = f"exited rc={self.rc}" if self.rc is not None else "did not complete"
            parts.append(f"command {shlex.join(self.argv)!r} {status}")
        stderr = self.stderr.strip()
        if stderr:
            parts.append(f"stderr: {stderr}")
        return "; ".join(parts) or "lab step failed"

    def __reduce__(self) -> Any:
        """Keep the exception picklable although __init__ takes more than one argument."""
        return (type(self), (self.argv, self.rc, self.stderr, self.reason, self.cni_error))
