"""One name per flag across the commands, and the same exit codes: argparse mistakes exit 2
everywhere, ``--ui-port`` implies ``--monitor``, ``statemachine-ui`` takes ``--ui-port``,
``process-events`` takes MACHINE or ``--machine``, and counts are never "1 machines"."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_support import Place

from statemachine_engine.cli._db import main as db_main
from statemachine_engine.cli._events import main as events_main
from statemachine_engine.cli._statemachine import build_parser as statemachine_parser
from statemachine_engine.cli._statemachine import main as statemachine_main
from statemachine_engine.cli._ui import build_parser as ui_parser
from statemachine_engine.cli._validate import main_lint, main_validate

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("main", "argv"),
    [
        (db_main, ["add-job", "j"]),  # --type missing
        (db_main, ["--nope"]),
        (db_main, ["list", "--limit", "zero"]),
        (statemachine_main, ["hello.yaml", "--ui-port", "x"]),
        (events_main, ["--format", "nope"]),
        (main_validate, ["--nope"]),
        (main_lint, ["--nope"]),
        (lambda argv: ui_parser().parse_args(argv), ["--port", "x"]),
    ],
)
def test_argparse_mistakes_exit_2_everywhere(
    main: object, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        code = main(argv)  # type: ignore[operator]
        raise SystemExit(code)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_a_monitor_flag_implies_monitor(
    place: Place, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert statemachine_parser().parse_args(["c.yaml"]).ui_port is None
    monkeypatch.chdir(place.root)
    flags = ["--ui-port", "0", "--websocket-port", "0", *place.flags()]
    caplog.set_level("INFO")
    assert statemachine_main(["quick.yaml", *flags]) == 0
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("WebSocket monitor listening on ws://127.0.0.1:") for m in messages)
    assert any(m.startswith("monitor UI at http://127.0.0.1:") for m in messages)


def test_statemachine_ui_takes_ui_port_as_well_as_port() -> None:
    assert ui_parser().parse_args(["--ui-port", "4001"]).port == 4001
    assert ui_parser().parse_args(["--port", "4002"]).port == 4002


def test_process_events_takes_machine_or_the_machine_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "x.db")
    send = ["--db", db, "send-event", "--target", "a", "--type", "go", "--timeout", "0.1"]
    send += ["--control-socket-prefix", str(tmp_path / "ctl")]
    db_main(send)  # recorded, undeliverable: no machine runs
    capsys.readouterr()
    for argv in (["process-events", "a"], ["process-events", "--machine", "a"]):
        assert db_main(["--db", db, *argv, "--format", "json"]) == 0
        assert [e["event_type"] for e in json.loads(capsys.readouterr().out)] == ["go"]
    assert db_main(["--db", db, "process-events"]) == 2
    assert "give the machine: MACHINE or --machine" in capsys.readouterr().err


def test_run_check_counts_one_machine_entry(
    place: Place, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = place.root / "statemachine-project.yaml"
    manifest.write_text("name: demo\nmonitor: false\nmachines:\n  - config: hello.yaml\n")
    assert statemachine_main(["run", str(manifest), "--check"]) == 0
    assert capsys.readouterr().out == f"statemachine run: {manifest}: 1 machine entry checked\n"
