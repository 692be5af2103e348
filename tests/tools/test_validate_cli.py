"""statemachine-validate and statemachine-lint: output, flags and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from statemachine_engine.cli._validate import main_lint, main_validate

LINT = Path(__file__).parent / "fixtures" / "lint"
CLEAN = str(LINT / "S001-pass.yaml")
ERRORS = str(LINT / "S003-fail.yaml")  # errors and a warning
WARNS = str(LINT / "S014-fail.yaml")  # one warning, no error
INFO = str(LINT / "R005-fail.yaml")  # one info


def run(
    main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(main_validate, [CLEAN], capsys)[0] == 0
    assert run(main_validate, [WARNS], capsys)[0] == 0
    assert run(main_validate, ["--strict", WARNS], capsys)[0] == 2
    assert run(main_validate, ["--strict", INFO], capsys)[0] == 0
    assert run(main_validate, [ERRORS], capsys)[0] == 1
    assert run(main_validate, ["--strict", ERRORS, WARNS], capsys)[0] == 1


def test_validate_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(main_validate, ["--no-color", CLEAN, ERRORS], capsys)
    assert code == 1
    assert f"{CLEAN}: OK\n" in out
    assert f"{ERRORS}: FAILED (" in out
    assert "S003  line 6: transition to undeclared state 'don' (did you mean 'done'?)" in out
    assert "at $.transitions[0].to" in out
    assert "fix: declare the state under states: or correct the name" in out
    assert out.rstrip().splitlines()[-1].startswith("Checked 2 files, 1 failed: ")
    assert "\x1b[" not in out


def test_validate_quiet_hides_warnings_but_strict_still_counts_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(main_validate, ["--quiet", "--strict", WARNS], capsys)
    assert code == 2
    assert "no transition uses it" not in out
    assert "1 warning" in out


def test_lint_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(main_lint, [ERRORS], capsys)
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith(f"{ERRORS}:") and ": R001 warning: " in first
    assert f"{ERRORS}:6:22: S003 error: transition to undeclared state 'don'" in out
    assert out.splitlines()[-1] == "1 file checked: 2 errors, 1 warning"


def test_lint_strict_and_select(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(main_lint, [WARNS], capsys)[0] == 0
    code, out, _ = run(main_lint, ["--strict", WARNS], capsys)
    assert code == 1 and "(--strict: warnings fail the check)" in out
    assert run(main_lint, ["--select", "R", ERRORS], capsys)[0] == 1  # R004
    assert run(main_lint, ["--select", "R001,S014", ERRORS], capsys)[0] == 0
    assert run(main_lint, ["--ignore", "S,R", ERRORS], capsys)[0] == 0
    # the published linter's codes still select: E002 is S003
    code, out, _ = run(main_lint, ["--select", "E002", ERRORS], capsys)
    assert code == 1 and "S003" in out and "R00" not in out


def test_lint_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(main_lint, ["--format", "json", CLEAN, ERRORS], capsys)
    assert code == 1
    data = json.loads(out)
    assert [d["file"] for d in data] == [CLEAN, ERRORS]
    assert data[0] == {
        "file": CLEAN,
        "issues": [],
        "error_count": 0,
        "warning_count": 0,
        "info_count": 0,
    }
    issue = next(i for i in data[1]["issues"] if i["code"] == "S003")
    assert issue == {
        "code": "S003",
        "severity": "error",
        "message": "transition to undeclared state 'don' (did you mean 'done'?)",
        "fix": "declare the state under states: or correct the name",
        "file": ERRORS,
        "line": 6,
        "column": 22,
        "path": "$.transitions[0].to",
        "context": "$.transitions[0].to",
    }
    assert data[1]["error_count"] == 2


def test_options_reach_the_checker(capsys: pytest.CaptureFixture[str]) -> None:
    fail = str(LINT / "A006-fail.yaml")
    assert run(main_lint, [fail], capsys)[0] == 1  # greet is unknown without the folder
    assert run(main_lint, ["--actions-dir", str(LINT / "actions_ok"), fail], capsys)[0] == 0
    p001 = str(LINT / "P001-fail.yaml")
    assert run(main_lint, [p001], capsys)[0] == 1
    assert run(main_lint, ["--initial-context", '{"report_title": "x"}', p001], capsys)[0] == 0


@pytest.mark.parametrize(
    "argv",
    [
        ["--actions-dir", "/nonexistent/folder", CLEAN],
        ["--initial-context", "{not json", CLEAN],
        ["--initial-context", "[1, 2]", CLEAN],
        ["--select", "Z999", CLEAN],
        [],
    ],
)
def test_wrong_flags_exit_2_with_a_message(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    for main in (main_lint, main_validate):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "error:" in err and "Traceback" not in err


def test_broken_files_never_print_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.yaml").write_text("states: [a\n")
    (tmp_path / "list.yaml").write_text("- a\n")
    files = [str(tmp_path / n) for n in ("bad.yaml", "list.yaml", "missing.yaml")]
    code, out, err = run(main_validate, files, capsys)
    assert code == 1 and err == "" and "Traceback" not in out
    assert "F002" in out and "F003" in out and "F001" in out


@pytest.mark.slow
def test_console_scripts(tmp_path: Path) -> None:
    """The installed commands, as a user runs them."""
    bin_dir = Path(sys.executable).parent
    (tmp_path / "bad.yaml").write_text("states: [a\n")
    for script, expected in (("statemachine-lint", 1), ("statemachine-validate", 1)):
        proc = subprocess.run(
            [str(bin_dir / script), str(tmp_path / "bad.yaml"), CLEAN],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == expected, proc.stderr
        assert "F002" in proc.stdout and "Traceback" not in proc.stdout + proc.stderr
    proc = subprocess.run(
        [str(bin_dir / "statemachine-validate"), "--strict", WARNS],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
