"""``statemachine-events`` output formats: human, json and the published package's compact."""

from __future__ import annotations

import io

from statemachine_engine.tools._events_monitor import EventPrinter


def _printed(format: str, *events: dict[str, object]) -> list[str]:
    out = io.StringIO()
    printer = EventPrinter(format=format, machine=None, out=out)
    for event in events:
        printer.show(event)
    return out.getvalue().splitlines()


def test_compact_is_one_short_line_per_event() -> None:
    assert _printed(
        "compact",
        {"machine_name": "w", "type": "state_change", "payload": {"to_state": "busy"}},
        {"machine_name": "w", "type": "job_started", "payload": {"job_id": "j1"}},
        {"machine_name": "w", "type": "job_completed", "payload": {"job_id": "j1"}},
        {"machine_name": "w", "type": "error", "payload": {}},
    ) == ["w → busy", "w ▶️ j1", "w ✅ j1", "w • error"]


def test_a_snapshot_counts_machines_in_good_english() -> None:
    snapshot = {"type": "initial", "machines": [{"machine_name": "a", "current_state": "s"}]}
    assert _printed("human", snapshot) == ["# 1 machine running: a=s"]
