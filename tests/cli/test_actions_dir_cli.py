"""A custom action file that cannot be loaded: ``statemachine CONFIG`` of a machine that uses
its type refuses to start in one line that names the file, the line and the exception, and
leaves nothing behind; a machine that does not use it starts, with a warning naming the file
(as the published package runs). ``statemachine-validate``/``-lint`` and ``statemachine run
[--check]`` report the same file with the same severity, so the checker never passes a setup
the runtime refuses to start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Place

from statemachine_engine.cli._statemachine import main
from statemachine_engine.cli._validate import main_lint, main_validate

STATEMACHINE = str(Path(sys.executable).parent / "statemachine")
#: kind -> (the file's text, the line of the file the error names, what the error says)
BROKEN = {
    "import": (
        "import nonexistent_mod\n",
        1,
        "custom action 'oops' failed to import: ModuleNotFoundError: "
        "No module named 'nonexistent_mod'",
    ),
    "syntax": ("x = 1\ndef broken(:\n", 2, "custom action 'oops' failed to import: SyntaxError: "),
    "raise": (
        "x = 1\nraise RuntimeError('boom')\n",
        2,
        "custom action 'oops' failed to import: RuntimeError: boom",
    ),
    "class": (
        "from statemachine_engine.actions import BaseAction\n\n\nclass Other(BaseAction):\n"
        "    pass\n",
        None,
        "class OopsAction is not defined in this file",
    ),
}

USES_OOPS = """\
initial_state: idle
final_states: [done]
states: [idle, done]
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: oops}
"""


def broken_actions(place: Place, kind: str) -> Path:
    """``actions/oops_action.py`` beside the config, broken in the way ``kind`` says."""
    folder = place.root / "actions"
    folder.mkdir()
    (folder / "oops_action.py").write_text(BROKEN[kind][0])
    return (folder / "oops_action.py").resolve()


def where(file: Path, line: int | None) -> str:
    return f"{file}:{line}" if line is not None else str(file)


def uses_oops(place: Place) -> Path:
    config = place.root / "uses_oops.yaml"
    config.write_text(USES_OOPS)
    return config


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_the_runtime_refuses_a_machine_that_uses_it_in_one_line(
    place: Place, kind: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    oops = broken_actions(place, kind)
    uses_oops(place)
    _, line, says = BROKEN[kind]
    monkeypatch.chdir(place.root)
    assert main(["uses_oops.yaml", "--actions-dir", "actions", *place.flags()]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"{where(oops, line)}: error: ")
    assert says in err
    assert not place.db.exists()
    assert not place.control_socket("uses_oops").exists()


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_machine_that_does_not_use_it_starts_with_a_warning(
    place: Place, kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    oops = broken_actions(place, kind)
    _, line, says = BROKEN[kind]
    monkeypatch.chdir(place.root)
    assert main(["quick.yaml", "--actions-dir", "actions", *place.flags()]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings  # once, though the runtime loads the folder again
    assert f"{where(oops, line)}: warning: {says}" in warnings[0]
    assert warnings[0].endswith("; a machine that uses type 'oops' will not start")


@pytest.mark.slow
def test_a_machine_with_an_action_that_fails_to_import(place: Place) -> None:
    oops = broken_actions(place, "import")
    uses_oops(place)
    result = subprocess.run(
        [STATEMACHINE, "uses_oops.yaml", "--actions-dir", "actions", *place.flags()],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=place.root,
    )
    assert result.returncode == 1
    assert result.stderr == f"{oops}:1: error: $: {BROKEN['import'][2]}\n"
    assert result.stdout == ""
    assert not place.db.exists()
    assert not place.control_socket("uses_oops").exists()


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_validate_warns_of_a_file_the_machine_does_not_use(
    place: Place, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    oops = broken_actions(place, kind)
    _, line, says = BROKEN[kind]
    actions = str(place.root / "actions")
    assert main_validate(["--no-color", "--actions-dir", actions, str(place.config)]) == 0
    report = capsys.readouterr().out
    assert "OK (0 errors, 1 warning)" in report
    assert "A006" in report and says in report and f"(at {where(oops, line)})" in report

    assert main_lint(["--format", "json", "--actions-dir", actions, str(place.config)]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    [finding] = entry["issues"]
    assert finding["code"] == "A006"
    assert finding["severity"] == "warning"
    assert finding["file"] == str(place.config)
    assert finding["line"] is None  # the fault is in the action file, not in the config
    assert finding["message"].startswith(f"{says}")
    assert finding["message"].endswith("refuses only a machine that uses type 'oops'")
    assert "oops_action.py" in finding["fix"]


def test_validate_reports_a_used_broken_file_once_at_the_action(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    oops = broken_actions(place, "import")
    config = place.root / "uses_oops.yaml"
    config.write_text(USES_OOPS)
    actions = str(place.root / "actions")
    assert main_lint(["--format", "json", "--actions-dir", actions, str(config)]) == 1
    [entry] = json.loads(capsys.readouterr().out)
    assert [(f["code"], f["line"], f["path"], f["message"]) for f in entry["issues"]] == [
        ("A006", 9, "$.actions.idle[0].type", f"{BROKEN['import'][2]} (at {oops}:1)")
    ]


MANIFEST = """\
name: demo
db: run/demo.db
actions_dir: actions
event_socket_path: {root}/pev.sock
control_socket_prefix: {root}/pctl
monitor: false
machines:
  - config: hello.yaml
"""


@pytest.mark.parametrize("check", [["--check"], []])
def test_statemachine_run_refuses_a_machine_that_uses_it_and_starts_nothing(
    place: Place, check: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    oops = broken_actions(place, "import")
    config = uses_oops(place)
    manifest = place.root / "statemachine-project.yaml"
    manifest.write_text(MANIFEST.format(root=place.root).replace("hello.yaml", config.name))
    assert main(["run", str(manifest), *check]) == 1
    err = capsys.readouterr().err.splitlines()
    # as statemachine-lint reports it: at the action that uses the type
    assert err[0] == f"{config}:9:14: A006 error: {BROKEN['import'][2]} (at {oops}:1)"
    assert err[1].startswith("    at $.actions.idle[0].type; fix: ")
    assert err[2:] == ["statemachine run: 1 error; nothing started"]
    assert not (place.root / "run").exists()
    assert not Path(f"{place.root}/pctl-demo.sock").exists()


def test_statemachine_run_check_passes_a_file_no_machine_uses(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    broken_actions(place, "import")
    manifest = place.root / "statemachine-project.yaml"
    manifest.write_text(MANIFEST.format(root=place.root))
    assert main(["run", str(manifest), "--check"]) == 0
    assert capsys.readouterr().out == f"statemachine run: {manifest}: 1 machine entry checked\n"


@pytest.mark.parametrize("check", [["--check"], []])
def test_statemachine_run_reports_a_missing_actions_folder_at_its_key(
    place: Place, check: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = place.root / "statemachine-project.yaml"
    manifest.write_text(MANIFEST.format(root=place.root).replace("dir: actions", "dir: nodir"))
    assert main(["run", str(manifest), *check]) == 1
    assert capsys.readouterr().err == (
        f"{manifest}:3:14: error: $.actions_dir: actions folder not found: {place.root}/nodir\n"
    )
    assert not (place.root / "run").exists()
