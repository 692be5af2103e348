"""The simulator crashes a machine at a virtual instant and starts it again: a durable one
resumes, so a crash at any step of a scripted run ends the same as no crash."""

from __future__ import annotations

import pytest

from statemachine_engine.config import load_config_text
from statemachine_engine.testing import ScheduledCrash, ScheduledEvent, simulate

FLOW = """
durable: true
metadata: {machine_name: flow}
initial_state: idle
states: [idle, working, checking, waiting, done]
final_states: [done]
events: [go, worked, checked, again, 'timeout(5)']
transitions:
  - {from: idle, to: working, event: go}
  - {from: working, to: checking, event: worked}
  - {from: checking, to: waiting, event: checked}
  - {from: waiting, to: working, event: again}
  - {from: waiting, to: done, event: 'timeout(5)'}
actions:
  working:
    - {type: log, message: working}
    - {type: sleep, duration: 2, success: worked}
  checking:
    - {type: sleep, duration: 1, success: checked}
"""
EVENTS = [ScheduledEvent(1, "flow", "go"), ScheduledEvent(6, "flow", "again")]


def _path(result) -> list[tuple[str, str, str]]:
    return [(t.from_state, t.event, t.to_state) for t in result.of("flow")]


def test_without_crashes() -> None:
    result = simulate([load_config_text(FLOW)], EVENTS, until=60)
    assert _path(result) == [
        ("idle", "go", "working"),
        ("working", "worked", "checking"),
        ("checking", "checked", "waiting"),
        ("waiting", "again", "working"),
        ("working", "worked", "checking"),
        ("checking", "checked", "waiting"),
        ("waiting", "timeout(5)", "done"),
    ]
    assert result.final_states["flow"] == (14.0, "done")


@pytest.mark.parametrize("at", [x / 2 for x in range(0, 30)])  # every half second of the run
def test_a_crash_at_any_instant_ends_the_same(at: float) -> None:
    """The same path and end; only a sleep the crash interrupted runs again (later)."""
    spec = load_config_text(FLOW)
    clean = simulate([spec], EVENTS, until=60)
    crashed = simulate([spec], [*EVENTS, ScheduledCrash(at, "flow")], until=60)
    assert _path(crashed) == _path(clean)
    assert crashed.final_states["flow"][1] == "done"
    assert crashed.running == frozenset()
    # a sleep is run again from the crash on: the run ends at most one sleep (2 s) later
    assert 14.0 <= crashed.final_states["flow"][0] <= 16.0


def test_a_crash_mid_sleep_runs_the_action_again_and_keeps_the_timer() -> None:
    spec = load_config_text(FLOW)
    # killed 1 s into the 2 s sleep, down 3 s: the sleep runs again from 5 to 7; 'again'
    # (6 s) arrived while it ran and waited for 'waiting'
    crashed = simulate([spec], [*EVENTS, ScheduledCrash(2, "flow", down=3)], until=60)
    times = [(t.t, t.event) for t in crashed.of("flow")]
    assert times == [
        (1.0, "go"),
        (7.0, "worked"),
        (8.0, "checked"),
        (8.0, "again"),
        (10.0, "worked"),
        (11.0, "checked"),
        (16.0, "timeout(5)"),
    ]
    # down while 'again' arrives: lost, as it would be for a process that is not running
    lost = simulate([spec], [*EVENTS, ScheduledCrash(5, "flow", down=3)], until=60)
    assert [t.event for t in lost.of("flow")][-1] == "timeout(5)"
    assert "again" not in [t.event for t in lost.of("flow")]
    killed = [e for e in crashed.events if e.type == "machine_terminated"]
    assert killed[0].payload["reason"] == "killed"


def test_a_machine_that_is_not_durable_starts_afresh() -> None:
    spec = load_config_text(FLOW.replace("durable: true", ""))
    crashed = simulate([spec], [*EVENTS, ScheduledCrash(2, "flow")], until=60)
    assert crashed.final_states["flow"][1] == "idle"
    assert crashed.running == frozenset({"flow"})


def test_events_file_crash_entries_are_checked(tmp_path) -> None:
    from statemachine_engine.errors import ConfigError
    from statemachine_engine.testing import parse_events

    assert parse_events([{"at": 2, "crash": "flow", "down": 1}], machines=["flow"]) == [
        ScheduledCrash(2.0, "flow", 1.0)
    ]
    with pytest.raises(ConfigError, match="no simulated machine is named 'nope'"):
        parse_events([{"at": 2, "crash": "nope"}], machines=["flow"])
    with pytest.raises(ConfigError, match="'down' must be a number"):
        parse_events([{"at": 2, "crash": "flow", "down": -1}], machines=["flow"])
