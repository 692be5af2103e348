"""One rule set for the checker and the runtime: what ``statemachine-validate`` calls an error,
``statemachine CONFIG`` and ``statemachine run [--check]`` refuse at start with the same
finding (file, line, column, YAML path, fix); their warnings are logged at start."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.cli._project import main as run_main
from statemachine_engine.cli._statemachine import main
from statemachine_engine.tools import check_start, finding_lines, lint_paths

QUICK = """\
initial_state: start
final_states: [done]
states: [start, done]
events: [finish]
transitions:
  - {from: start, to: done, event: finish}
actions:
  start:
    - {type: log, message: "starting", success: finish}
"""
#: the three silent failures of the published runtime, each with what the checker says
BROKEN = {
    "undeclared event": (
        QUICK.replace("event: finish}", "event: finsh}"),
        "quick.yaml:6:36: S006 error: event 'finsh' is not declared in events (did you "
        "mean 'finish'?)",
    ),
    "transition: for transitions:": (
        QUICK.replace("transitions:", "transition:"),
        "quick.yaml:5:1: S010 error: unknown key 'transition' in the configuration: did you "
        "mean 'transitions'? There is no 'transitions', so what is written under "
        "'transition' would be ignored",
    ),
    "empty action type": (
        QUICK.replace("{type: log,", "{type: '',"),
        "quick.yaml:9:14: A002 error: an action type must be a name, got ''",
    ),
}


@pytest.fixture
def place(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh short folder (socket paths stay short), the working folder of the test."""
    root = Path(tempfile.mkdtemp(prefix="smstart", dir="/tmp"))
    monkeypatch.chdir(root)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def flags(root: Path) -> list[str]:
    return [
        "--db",
        str(root / "m.db"),
        "--control-socket-prefix",
        str(root / "ctl"),
        "--event-socket-path",
        str(root / "ev.sock"),
    ]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_statemachine_refuses_what_validate_rejects_with_the_same_lines(
    place: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, first_line = BROKEN[case]
    (place / "quick.yaml").write_text(text)
    expected = [
        line
        for f in lint_paths(["quick.yaml"]).findings
        if f.severity == "error"
        for line in finding_lines(f)
    ]
    assert main(["quick.yaml", *flags(place)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert first_line in err
    assert err == [
        *expected,
        f"statemachine: {len(expected) // 2} error"
        f"{'s' if len(expected) > 2 else ''}; nothing started",
    ]
    assert not (place / "m.db").exists()


def test_the_refusal_says_where_and_how_to_fix(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (place / "quick.yaml").write_text(BROKEN["undeclared event"][0])
    assert main(["quick.yaml", *flags(place)]) == 1
    err = capsys.readouterr().err
    assert "    at $.transitions[0].event; fix: declare it under events: or correct the name" in err


def test_warnings_are_logged_at_start(place: Path, caplog: pytest.LogCaptureFixture) -> None:
    (place / "quick.yaml").write_text("owner: ops-team\n" + QUICK)
    with caplog.at_level(logging.WARNING):
        assert main(["quick.yaml", *flags(place)]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.name == "statemachine_engine.config"]
    assert warnings == [
        "quick.yaml:1:1: S010 warning: unknown key 'owner' in the configuration is ignored "
        "(at $.owner; fix: remove it or use one of: name, description, metadata, "
        "initial_state, states, events, transitions, actions, template, durable, final_states, "
        "state_groups, known_context, actions_root)"
    ]


def test_a_child_started_with_start_fsm_is_checked_with_its_parent(
    place: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (place / "child.yaml").write_text(BROKEN["undeclared event"][0])
    parent = QUICK.replace(
        '{type: log, message: "starting", success: finish}',
        "{type: start_fsm, yaml_path: child.yaml, machine_name: kid, success: finish}",
    )
    (place / "parent.yaml").write_text(parent)
    assert main(["parent.yaml", *flags(place)]) == 1
    err = capsys.readouterr().err
    assert "child.yaml:6:36: S006 error: event 'finsh'" in err


def test_the_keys_of_initial_context_count(place: Path) -> None:
    (place / "quick.yaml").write_text(QUICK.replace('"starting"', '"starting {order}"'))
    assert [f.code for f in check_start("quick.yaml").result.findings] == ["P001"]
    assert check_start("quick.yaml", initial_context=["order"]).result.findings == ()


def test_a_durable_machine_may_resume_with_keys_no_start_gives(place: Path) -> None:
    (place / "quick.yaml").write_text(QUICK.replace('"starting"', '"starting {order}"'))
    [finding] = check_start("quick.yaml", durable=True).result.findings
    assert finding.code == "P001" and finding.severity == "warning"
    assert finding.message.endswith("a durable machine may have it from its checkpoint")


def test_the_spec_comes_from_the_same_parse(place: Path) -> None:
    (place / "quick.yaml").write_text(QUICK)
    checked = check_start("quick.yaml")
    assert checked.errors == [] and checked.warnings == []
    assert checked.spec is not None and checked.spec.initial_state == "start"
    assert checked.spec.source == "quick.yaml"


def test_run_and_run_check_log_the_warnings_and_refuse_the_errors(
    place: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    (place / "good.yaml").write_text("owner: ops-team\n" + QUICK)
    (place / "statemachine-project.yaml").write_text("name: p\nmachines:\n  - config: good.yaml\n")
    with caplog.at_level(logging.WARNING):
        assert run_main(["--check"]) == 0
    assert any("S010 warning: unknown key 'owner'" in r.getMessage() for r in caplog.records)
    (place / "bad.yaml").write_text(BROKEN["transition: for transitions:"][0])
    (place / "statemachine-project.yaml").write_text("name: p\nmachines:\n  - config: bad.yaml\n")
    assert run_main(["--check"]) == 1
    assert "bad.yaml:5:1: S010 error: unknown key 'transition'" in capsys.readouterr().err
