"""The simulation harness and ``statemachine simulate``: trace format, determinism, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from statemachine_engine.cli._simulate import main as simulate_main
from statemachine_engine.config import load_config_text
from statemachine_engine.errors import ConfigError
from statemachine_engine.testing import (
    MachineSetup,
    ScheduledEvent,
    TraceEntry,
    load_events,
    parse_events,
    simulate,
)

PINGER = """\
metadata: {machine_name: pinger}
final_states: [done]
transitions:
  - {from: waiting, to: pinging, event: go}
  - {from: pinging, to: waiting_pong, event: event_sent}
  - {from: waiting_pong, to: pinging, event: pong}
  - {from: waiting_pong, to: done, event: timeout(1.5)}
actions:
  pinging:
    - type: send_event
      target_machine: ponger
      event_type: ping
      payload: {sender: "{machine_name}"}
"""

PONGER = """\
transitions:
  - {from: waiting, to: ponging, event: ping}
  - {from: ponging, to: resting, event: event_sent}
  - {from: resting, to: waiting, event: timeout(0.25)}
actions:
  ponging:
    - {type: send_event, target_machine: pinger, event_type: pong}
"""

EVENTS = """\
- {at: 2, target: pinger, type: go, payload: {n: 1}}
- {at: 0.5, target: ponger, type: nothing_happens}
"""

EXPECTED_JSONL = """\
{"t": 2.0, "machine": "pinger", "from": "waiting", "to": "pinging", "event": "go"}
{"t": 2.0, "machine": "ponger", "from": "waiting", "to": "ponging", "event": "ping"}
{"t": 2.0, "machine": "pinger", "from": "pinging", "to": "waiting_pong", "event": "event_sent"}
{"t": 2.0, "machine": "pinger", "from": "waiting_pong", "to": "pinging", "event": "pong"}
{"t": 2.0, "machine": "pinger", "from": "pinging", "to": "waiting_pong", "event": "event_sent"}
{"t": 2.0, "machine": "ponger", "from": "ponging", "to": "resting", "event": "event_sent"}
{"t": 2.25, "machine": "ponger", "from": "resting", "to": "waiting", "event": "timeout(0.25)"}
{"t": 3.5, "machine": "pinger", "from": "waiting_pong", "to": "done", "event": "timeout(1.5)"}
{"t": 3.5, "machine": "pinger", "final_state": "done"}
{"t": 10.0, "machine": "ponger", "final_state": "waiting", "running": true, "dropped": 2}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pinger.yaml").write_text(PINGER)
    (tmp_path / "ponger.yaml").write_text(PONGER)
    (tmp_path / "events.yaml").write_text(EVENTS)
    return tmp_path


def test_simulate_several_machines(project: Path) -> None:
    result = simulate(
        [project / "pinger.yaml", project / "ponger.yaml"], project / "events.yaml", until=10
    )
    assert result.to_jsonl() == EXPECTED_JSONL
    assert result.of("ponger")[0] == TraceEntry(2.0, "ponger", "waiting", "ponging", "ping")
    assert dict(result.final_states) == {"pinger": (3.5, "done"), "ponger": (10.0, "waiting")}
    assert result.end_time == 10.0


def test_json_lines_are_objects_with_exactly_the_documented_keys(project: Path) -> None:
    result = simulate([project / "pinger.yaml", project / "ponger.yaml"], project / "events.yaml")
    lines = [json.loads(line) for line in result.to_jsonl().splitlines()]
    transitions = [line for line in lines if "final_state" not in line]
    finals = [line for line in lines if "final_state" in line]
    assert lines == transitions + finals  # every transition first, then one line per machine
    assert all(list(line) == ["t", "machine", "from", "to", "event"] for line in transitions)
    # ponger is still running when the run ends, and dropped nothing_happens and the second
    # ping (it arrived while ponger was busy, and fired nothing once ponger was resting)
    assert [list(line) for line in finals] == [
        ["t", "machine", "final_state"],
        ["t", "machine", "final_state", "running", "dropped"],
    ]
    assert [line["machine"] for line in finals] == ["pinger", "ponger"]


def test_text_format(project: Path) -> None:
    result = simulate(
        [project / "pinger.yaml", project / "ponger.yaml"], project / "events.yaml", until=10
    )
    lines = result.to_text().splitlines()
    assert lines[0] == "     2.000  pinger  waiting --go--> pinging"
    assert lines[6] == "     2.250  ponger  resting --timeout(0.25)--> waiting"
    assert lines[-3:] == [
        "     3.500  pinger  final state: done",
        "    10.000  ponger  2 events fired no transition and were dropped",
        "    10.000  ponger  still running at the end, in state: waiting",
    ]


def test_the_simulation_stops_when_every_machine_has_stopped() -> None:
    spec = load_config_text(
        "final_states: [done]\ntransitions:\n  - {from: waiting, to: done, event: timeout(2.5)}\n"
    )
    result = simulate([MachineSetup(spec, "m")], until=100)
    assert result.end_time == 2.5
    assert dict(result.final_states) == {"m": (2.5, "done")}


def test_repeated_runs_give_identical_traces(project: Path) -> None:
    configs = [project / "pinger.yaml", project / "ponger.yaml"]
    runs = {simulate(configs, project / "events.yaml", until=10).to_jsonl() for _ in range(3)}
    assert runs == {EXPECTED_JSONL}


def test_simulate_machine_setups_with_names_context_and_unsorted_events() -> None:
    spec = load_config_text(
        "transitions:\n  - {from: waiting, to: moved, event: go}\n"
        "actions:\n  moved: [{type: log, message: 'x is {x}'}]\n"
    )
    result = simulate(
        [MachineSetup(spec, "a", {"x": 1}), MachineSetup(spec, "b")],
        [ScheduledEvent(3, "b", "go"), ScheduledEvent(1, "a", "go")],
        until=5,
    )
    assert [(t.t, t.machine, t.to_state) for t in result.transitions] == [
        (1.0, "a", "moved"),
        (3.0, "b", "moved"),
    ]
    logs = [
        (e.machine_name, e.payload["message"]) for e in result.events if e.type == "activity_log"
    ]
    assert logs == [("a", "x is 1"), ("b", "x is {x}")]


def test_two_machines_with_the_same_name_are_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="two simulated machines are named 'pinger'"):
        simulate([project / "pinger.yaml", project / "pinger.yaml"])


def test_same_time_events_keep_file_order() -> None:
    events = parse_events(
        [
            {"at": 1, "target": "m", "type": "b"},
            {"at": 0, "target": "m", "type": "a"},
            {"at": 1, "target": "m", "type": "c"},
        ]
    )
    assert [e.type for e in events] == ["a", "b", "c"]
    assert events[0] == ScheduledEvent(0.0, "m", "a", {})


def test_events_file_errors_name_file_position_and_path(tmp_path: Path) -> None:
    events = tmp_path / "events.yaml"
    events.write_text(
        "- {at: 1, target: alpha, type: go}\n"
        "- {at: -1, target: beta, type: go}\n"
        "- {at: soon, type: go, payload: [1]}\n"
        "- {at: 1, target: alpha, type: go, extra: 1}\n"
        "- just text\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_events(events, machines=["alpha"])
    assert [str(issue) for issue in caught.value.errors] == [
        f"{events}:2:8: error: $[1].at: 'at' must be a number of seconds >= 0, got -1",
        f"{events}:2:20: error: $[1].target: no simulated machine is named 'beta'; machines: alpha",
        f"{events}:3:8: error: $[2].at: 'at' must be a number of seconds >= 0, got 'soon'",
        f"{events}:3:3: error: $[2].target: 'target' must name a machine",
        f"{events}:3:33: error: $[2].payload: 'payload' must be a mapping",
        f"{events}:4:3: error: $[3]: unknown keys extra; use at, target, type, payload",
        f"{events}:5:3: error: $[4]: expected a mapping with at, target, type and optional payload",
    ]


def test_an_events_file_must_be_a_list(tmp_path: Path) -> None:
    events = tmp_path / "events.yaml"
    events.write_text("at: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_events(events)
    assert str(caught.value) == (
        f"{events}:1:1: error: $: an events file is a list of {{at, target, type, payload}}"
    )


def test_an_unknown_target_is_an_error_naming_the_events_file(project: Path) -> None:
    (project / "typo.yaml").write_text("- {at: 1, target: pingr, type: go}\n")
    with pytest.raises(ConfigError) as caught:
        simulate([project / "pinger.yaml"], project / "typo.yaml")
    assert str(caught.value) == (
        f"{project / 'typo.yaml'}:1:19: error: $[0].target: no simulated machine is named"
        " 'pingr'; machines: pinger"
    )


def test_unknown_targets_in_scheduled_events_are_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="events name machines that are not simulated: x"):
        simulate([project / "pinger.yaml"], [ScheduledEvent(1, "x", "go")])


def test_cli_in_process(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [str(project / "pinger.yaml"), str(project / "ponger.yaml")]
    argv += ["--events", str(project / "events.yaml"), "--until", "10", "--format", "json"]
    assert simulate_main(argv) == 0
    assert capsys.readouterr().out == EXPECTED_JSONL


def test_cli_reports_a_config_error_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("states: [a]\n")
    assert simulate_main([str(bad)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"statemachine simulate: {bad}:1:1: error: $: initial_state is missing and the default"
        " 'waiting' is not among the declared states; add initial_state: <one of a>\n"
    )


PROGRAM = "from statemachine_engine.cli._statemachine import main; raise SystemExit(main())"


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", PROGRAM, "simulate", *map(str, args)],
        capture_output=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_cli_subprocess_output_is_identical_byte_for_byte(project: Path) -> None:
    args = ("pinger.yaml", "ponger.yaml", "--events", "events.yaml", "--until", "10")
    first = run_cli(*args, "--format", "json", cwd=project)
    second = run_cli(*args, "--format", "json", cwd=project)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout == EXPECTED_JSONL.encode()
    text = run_cli(*args, cwd=project)
    assert text.stdout.decode().splitlines()[0] == "     2.000  pinger  waiting --go--> pinging"


def test_cli_subprocess_error_exit_status(project: Path) -> None:
    (project / "typo.yaml").write_text("- {at: x, target: pinger, type: go}\n")
    done = run_cli("pinger.yaml", "--events", "typo.yaml", cwd=project)
    assert done.returncode != 0
    assert done.stdout == b""
    assert b"Traceback" not in done.stderr
    assert b"typo.yaml:1:8: error: $[0].at: 'at' must be a number of seconds >= 0" in done.stderr
