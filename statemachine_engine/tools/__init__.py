"""Tools around machines: diagrams, the checker behind validate and lint, the event printer.

The diagrams and the event printer are imported on first use: ``statemachine CONFIG`` runs
the checker at every start and should not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports
from statemachine_engine.tools._findings import (
    CODES,
    UPSTREAM_ALIASES,
    CodeInfo,
    Finding,
    Severity,
    expand_codes,
)
from statemachine_engine.tools._lint import LintResult, lint_paths, lint_yaml
from statemachine_engine.tools._report import (
    finding_line,
    finding_lines,
    lint_json,
    lint_report,
    validate_report,
)
from statemachine_engine.tools._start_check import StartCheck, check_start

__all__ = [
    "CODES",
    "UPSTREAM_ALIASES",
    "CodeInfo",
    "Finding",
    "LintResult",
    "Severity",
    "StartCheck",
    "base_id",
    "check_start",
    "diagram_title",
    "expand_codes",
    "finding_line",
    "finding_lines",
    "generate_diagrams",
    "lint_json",
    "lint_paths",
    "lint_report",
    "lint_yaml",
    "print_events",
    "validate_report",
    "write_diagrams",
]

_ON_FIRST_USE: dict[str, str] = {
    "base_id": "statemachine_engine.tools._ids",
    "diagram_title": "statemachine_engine.tools._diagrams",
    "generate_diagrams": "statemachine_engine.tools._diagrams",
    "print_events": "statemachine_engine.tools._events_monitor",
    "write_diagrams": "statemachine_engine.tools._diagrams",
}

if TYPE_CHECKING:
    from statemachine_engine.tools._diagrams import (
        diagram_title,
        generate_diagrams,
        write_diagrams,
    )
    from statemachine_engine.tools._events_monitor import print_events
    from statemachine_engine.tools._ids import base_id

__getattr__, __dir__ = lazy_exports(__name__, _ON_FIRST_USE)
