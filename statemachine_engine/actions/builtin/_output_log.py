"""A ``bash`` command's output lines in the runtime's log, thinned so polling loops don't
flood it.

Each (machine, command template) has one running count of lines, kept across runs of the
command: its first ``FIRST`` lines are logged at INFO, then every ``LOG_EVERY``-th with its
count (the rule transitions follow), and the line that starts the thinning says so.
"""

from __future__ import annotations

import logging
from typing import Any

from statemachine_engine._thinning import LOG_EVERY, worth_logging

#: lines of one command logged before thinning starts
FIRST = 10
#: how many (machine, command) counts are kept; past that they start again from zero
_KEYS_KEPT = 10_000
_counts: dict[tuple[str, str], int] = {}


class OutputLog:
    """Where one run of a command writes its output lines (see the module docstring)."""

    __slots__ = ("key", "logger", "machine")

    def __init__(self, key: tuple[str, str], logger: logging.Logger | Any) -> None:
        self.key = key
        self.logger = logger
        self.machine = key[0]

    @classmethod
    def of(cls, machine: str, template: str, logger: logging.Logger | Any) -> OutputLog:
        return cls((machine, template), logger)

    def line(self, stream: str, text: str) -> None:
        if not text.strip():
            return
        if len(_counts) >= _KEYS_KEPT and self.key not in _counts:
            _counts.clear()  # a config cannot have that many commands: templates from jobs
        n = _counts.get(self.key, 0) + 1
        _counts[self.key] = n
        if not worth_logging(n, first=FIRST):
            return
        if n < FIRST:
            self.logger.info("[%s] bash %s: %s", self.machine, stream, text)
        elif n == FIRST:
            self.logger.info(
                "[%s] bash %s: %s (line #%d of this command; from now on only every %dth "
                "is logged)",
                self.machine,
                stream,
                text,
                n,
                LOG_EVERY,
            )
        else:
            self.logger.info("[%s] bash %s: %s (line #%d)", self.machine, stream, text, n)
