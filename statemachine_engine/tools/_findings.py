"""What the checker reports: findings, their severities, and the catalogue of codes.

Every code is stable: a code is never reused for another check. Codes are grouped by family
(``F`` file, ``S`` structure, ``G`` state groups, ``R`` reachability, ``A`` actions,
``P`` placeholders, ``X`` across machines); the severity is a property of each finding, so one
check may report an error in one machine and a warning in another (see ``P001``).
docs/lint-codes.md documents every code with a failing and a passing example.
"""

from __future__ import annotations

from typing import Literal

import attrs

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@attrs.frozen
class Finding:
    """One problem in one file.

    ``path`` is a YAML path such as ``$.transitions[3].to``; ``line`` and ``column`` are 1-based
    or None when the problem has no position (a missing file). ``fix`` says what to change.
    """

    code: str
    severity: Severity
    message: str
    file: str
    line: int | None = None
    column: int | None = None
    path: str = "$"
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON shape; ``context`` repeats ``path`` for the published linter's readers."""
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "context": self.path,
        }


@attrs.frozen
class CodeInfo:
    code: str
    title: str
    #: the severity it is usually reported with
    severity: Severity


def _catalogue(*rows: tuple[str, Severity, str]) -> dict[str, CodeInfo]:
    return {code: CodeInfo(code, title, severity) for code, severity, title in rows}


#: Every code the checker can report.
CODES: dict[str, CodeInfo] = _catalogue(
    ("F001", "error", "the file cannot be read"),
    ("F002", "error", "YAML syntax error"),
    ("F003", "error", "the document is not a mapping"),
    ("F004", "error", "the checker itself failed on this file"),
    ("S000", "error", "the configuration loader rejects this value"),
    ("S001", "error", "initial_state is missing and the default 'waiting' is not declared"),
    ("S002", "error", "initial_state names an undeclared state"),
    ("S003", "error", "a transition names an undeclared state"),
    ("S004", "error", "actions are attached to an undeclared state"),
    ("S005", "error", "final_states names an undeclared state"),
    ("S006", "error", "a transition uses an undeclared event"),
    ("S007", "error", "duplicate transition"),
    ("S008", "error", "a transition can never fire: an earlier one handles the same event"),
    ("S009", "error", "malformed timeout(...) event"),
    ("S010", "warning", "unknown key"),
    ("S011", "error", "a state is declared twice"),
    ("S012", "warning", "no states: list; states are inferred"),
    ("S013", "warning", "no events: list; events are inferred"),
    ("S014", "warning", "a declared event is used by no transition"),
    ("S015", "error", "a key appears twice in the same mapping"),
    ("G001", "error", "a state group names an undeclared state"),
    ("G002", "error", "a state is in more than one group"),
    ("G003", "warning", "a state is in no group"),
    ("G004", "warning", "a state group is empty"),
    ("G005", "info", "state groups come from comments"),
    ("R001", "warning", "a state cannot be reached from the initial state"),
    ("R002", "error", "a state that is not final has no way out"),
    ("R003", "warning", "a final state has outgoing transitions"),
    ("R004", "error", "no final state can be reached"),
    ("R005", "info", "the machine has no final state"),
    ("R006", "warning", "from this state no final state can be reached"),
    ("A001", "error", "unknown action type"),
    ("A002", "error", "an action has no type"),
    ("A003", "error", "an action misses a required key"),
    ("A004", "warning", "unknown key for this action type"),
    ("A005", "warning", "an event the action can return is handled by no transition"),
    ("A006", "error", "a custom action file fails to import"),
    ("A007", "error", "an action setting has a value the action cannot use"),
    ("P001", "error", "a placeholder names something that is never in the context"),
    ("P002", "warning", "a placeholder uses an unknown filter"),
    ("X001", "warning", "send_event targets a machine not among the checked files"),
    ("X002", "error", "send_event sends an event the target machine never handles"),
    ("X003", "error", "start_fsm names a configuration file that does not exist"),
)

#: The published linter's codes, accepted by ``--select``/``--ignore`` for old scripts.
UPSTREAM_ALIASES: dict[str, tuple[str, ...]] = {
    "E000": ("F003",),
    "E001": ("S001", "S002"),
    "E002": ("S003",),
    "E003": ("S006",),
    "E004": ("S011",),
    "E005": ("S007",),
    "E006": ("R004",),
    "E007": ("R002",),
    "E008": ("A001",),
    "E009": ("A005",),
    "E010": ("A003",),
    "E012": ("P001",),
    "W001": ("R001",),
    "W004": ("A004",),
    "W007": ("S014",),
    "W009": ("P001",),
}


def expand_codes(selectors: str | None) -> frozenset[str] | None:
    """``"S,R001,E003"`` -> the matching codes (family letters and upstream codes expand).

    Returns None for no selection; raises ValueError naming a selector that matches nothing.
    """
    if not selectors:
        return None
    out: set[str] = set()
    for raw in selectors.split(","):
        sel = raw.strip().upper()
        if not sel:
            continue
        matched = {c for c in CODES if c.startswith(sel)} | set(UPSTREAM_ALIASES.get(sel, ()))
        if not matched:
            raise ValueError(f"unknown code {raw.strip()!r}")
        out |= matched
    return frozenset(out)


def sort_key(finding: Finding) -> tuple[str, int, int, str]:
    return (finding.file, finding.line or 0, finding.column or 0, finding.code)
