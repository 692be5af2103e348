"""Config problems collected at their YAML path, line and column, to be reported at once."""

from __future__ import annotations

from typing import Any

from statemachine_engine.config._yaml import Path, Positions, format_path, position_of
from statemachine_engine.errors import ConfigIssue


class Collector:
    """The problems found so far in one document, with the positions to place them."""

    def __init__(self, file: str | None, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.issues: list[ConfigIssue] = []

    def add(self, path: Path, message: str, *, severity: str = "error", key: bool = False) -> None:
        """Record a problem at ``path``; ``key=True`` places it on the key rather than on its
        value (an unknown key is the key's fault)."""
        where = (*path, "<key>") if key and (*path, "<key>") in self.positions else path
        line, column = position_of(self.positions, where)
        self.issues.append(
            ConfigIssue(
                message,
                path=format_path(path),
                file=self.file,
                line=line,
                column=column,
                severity=severity,
            )
        )

    def line(self, path: Path) -> int | None:
        return position_of(self.positions, path)[0]


def describe(value: Any) -> str:
    """How a wrong value reads in a message: ``a mapping``, ``int 3``, ``nothing (null)``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
