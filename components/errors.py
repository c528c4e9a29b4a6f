"""User-facing configuration problems, collected in one pass and reported together."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True)
class ConfigProblem:
    """One bad config value: where it is, what it was, and what would be allowed."""

    key: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"{self.key}: got {self.value!r}; {self.allowed}"


class ConfigError(ValueError):
    """Every problem found in the configuration, so the user fixes them all at once."""

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: tuple[ConfigProblem, ...] = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        count = len(self.problems)
        lines = [f"macvlan-testbed: {count} configuration problem{'s' if count != 1 else ''}:"]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)
