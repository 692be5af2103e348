"""Every lint code has a failing and a passing fixture, and docs/lint-codes.md shows both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from statemachine_engine.tools import CODES, LintResult, lint_paths

LINT = Path(__file__).parent / "fixtures" / "lint"
DOCS = Path(__file__).parents[2] / "docs" / "lint-codes.md"
#: codes whose fixtures need an actions folder: (for the failing file, for the passing one)
ACTIONS_DIRS = {"A006": ("actions_broken", "actions_ok")}
#: reported for a bug in the checker itself, so no file can be made to fail (see
#: test_lint_robust.py::test_a_failing_check_becomes_a_finding)
WITHOUT_FIXTURES = {"F004"}
FIXTURE_CODES = sorted(set(CODES) - WITHOUT_FIXTURES)


def fixture_paths(code: str, kind: str) -> list[Path]:
    folder = LINT / f"{code}-{kind}"
    if folder.is_dir():
        return sorted(folder.glob("*.yaml"))
    return [LINT / f"{code}-{kind}.yaml"]


def run(code: str, kind: str) -> LintResult:
    dirs = ACTIONS_DIRS.get(code)
    actions = [LINT / dirs[0 if kind == "fail" else 1]] if dirs else []
    return lint_paths(fixture_paths(code, kind), actions_dirs=actions)


def test_every_code_has_both_fixtures() -> None:
    for code in FIXTURE_CODES:
        for kind in ("fail", "pass"):
            paths = fixture_paths(code, kind)
            assert paths and all(p.is_file() for p in paths), f"{code}-{kind} fixture missing"


@pytest.mark.parametrize("code", FIXTURE_CODES)
def test_failing_fixture_reports_the_code(code: str) -> None:
    result = run(code, "fail")
    found = [f for f in result.findings if f.code == code]
    assert found, f"{code} not reported; got {[f.code for f in result.findings]}"
    for f in found:
        assert f.severity == CODES[code].severity
        assert f.message and f.fix
        assert f.path.startswith("$")
        if code != "F001":
            assert f.line is not None


@pytest.mark.parametrize("code", FIXTURE_CODES)
def test_passing_fixture_is_clean(code: str) -> None:
    result = run(code, "pass")
    assert [f for f in result.findings if f.code == code or f.severity != "info"] == []


def _doc_sections() -> dict[str, str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = re.split(r"^### ", text, flags=re.MULTILINE)
    return {p.split()[0]: p for p in parts[1:]}


def test_docs_describe_every_code() -> None:
    sections = _doc_sections()
    assert sorted(sections) == sorted(CODES)
    for code, info in CODES.items():
        assert info.severity in sections[code], code


@pytest.mark.parametrize("code", [c for c in FIXTURE_CODES if c != "F001"])
def test_docs_show_the_fixtures(code: str) -> None:
    """The examples in the docs are the tested fixtures, character for character."""
    section = _doc_sections()[code]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    for kind in ("fail", "pass"):
        for path in fixture_paths(code, kind):
            assert path.read_text(encoding="utf-8") in blocks, f"{path.name} not in the docs"
