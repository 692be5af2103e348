"""Rendering findings: the lint lines, the lint JSON and the validate report."""

from __future__ import annotations

import json

from statemachine_engine.tools._findings import Finding, Severity
from statemachine_engine.tools._lint import LintResult

_COLORS: dict[str, str] = {"error": "31", "warning": "33", "info": "36", "ok": "32"}


def _paint(text: str, kind: str, color: bool) -> str:
    return f"\x1b[{_COLORS[kind]}m{text}\x1b[0m" if color else text


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def counts(findings: list[Finding] | tuple[Finding, ...]) -> str:
    by: dict[Severity, int] = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        by[f.severity] += 1
    parts = [_plural(by["error"], "error"), _plural(by["warning"], "warning")]
    if by["info"]:
        parts.append(_plural(by["info"], "info"))
    return ", ".join(parts)


def _location(f: Finding) -> str:
    where = f.file
    if f.line is not None:
        where += f":{f.line}"
        if f.column is not None:
            where += f":{f.column}"
    return where


def finding_lines(f: Finding, *, color: bool = False) -> list[str]:
    """``file:line:col: CODE severity: message``, then its YAML path and fix."""
    severity = _paint(f.severity, f.severity, color)
    detail = f"    at {f.path}"
    if f.fix:
        detail += f"; fix: {f.fix}"
    return [f"{_location(f)}: {f.code} {severity}: {f.message}", detail]


def finding_line(f: Finding) -> str:
    """:func:`finding_lines` in one line, for a log: ``file:line:col: CODE severity: message
    (at PATH; fix: ...)``."""
    first, detail = finding_lines(f)
    return f"{first} ({detail.strip()})"


def lint_report(result: LintResult, *, strict: bool = False, color: bool = False) -> str:
    """Each finding (:func:`finding_lines`), then a summary line."""
    lines: list[str] = []
    for f in result.findings:
        lines.extend(finding_lines(f, color=color))
    summary = f"{_plural(len(result.files), 'file')} checked: {counts(result.findings)}"
    if strict and result.count("warning"):
        summary += " (--strict: warnings fail the check)"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def lint_json(result: LintResult) -> str:
    """A list with one object per file: ``{file, issues, error_count, warning_count,
    info_count}`` (the published linter's shape, with line, column and path added)."""
    out = []
    for file in result.files:
        issues = result.for_file(file)
        out.append(
            {
                "file": file,
                "issues": [f.to_dict() for f in issues],
                "error_count": sum(1 for f in issues if f.severity == "error"),
                "warning_count": sum(1 for f in issues if f.severity == "warning"),
                "info_count": sum(1 for f in issues if f.severity == "info"),
            }
        )
    return json.dumps(out, indent=2) + "\n"


def validate_report(result: LintResult, *, quiet: bool = False, color: bool = False) -> str:
    """A report for people: each file's verdict, its findings, the fixes, a summary.

    ``quiet`` hides warnings and infos (they are still counted, and still fail ``--strict``).
    """
    lines: list[str] = []
    for file in result.files:
        findings = result.for_file(file)
        errors = sum(1 for f in findings if f.severity == "error")
        if errors:
            verdict = _paint("FAILED", "error", color) + f" ({counts(findings)})"
        elif findings and any(f.severity == "warning" for f in findings):
            verdict = _paint("OK", "ok", color) + f" ({counts(findings)})"
        else:
            verdict = _paint("OK", "ok", color)
        lines.append(f"{file}: {verdict}")
        for f in findings:
            if quiet and f.severity != "error":
                continue
            where = f"line {f.line}" if f.line is not None else "file"
            lines.append(
                f"  {_paint(f'{f.severity:<7}', f.severity, color)} {f.code}  {where}: {f.message}"
            )
            lines.append(f"           at {f.path}")
            if f.fix:
                lines.append(f"           fix: {f.fix}")
    failed = sum(
        1 for file in result.files if any(f.severity == "error" for f in result.for_file(file))
    )
    lines.append("")
    lines.append(
        f"Checked {_plural(len(result.files), 'file')}"
        + (f", {failed} failed" if failed else "")
        + f": {counts(result.findings)}"
    )
    return "\n".join(lines) + "\n"
