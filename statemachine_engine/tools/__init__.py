"""Tools around machines: diagrams, the checker behind validate and lint, the event printer."""

from statemachine_engine.tools._diagrams import diagram_title, generate_diagrams, write_diagrams
from statemachine_engine.tools._events_monitor import print_events
from statemachine_engine.tools._findings import (
    CODES,
    UPSTREAM_ALIASES,
    CodeInfo,
    Finding,
    Severity,
    expand_codes,
)
from statemachine_engine.tools._ids import base_id
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
