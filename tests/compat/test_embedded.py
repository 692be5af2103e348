"""Embedded use as the README describes it: ``open_runtime()`` records into
``$STATEMACHINE_DB``, and ``testing.simulate`` takes the events as a list of dicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from statemachine_engine import load_config, open_runtime
from statemachine_engine.errors import ConfigError
from statemachine_engine.persistence import connect, records_sql
from statemachine_engine.testing import simulate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embedded"
WORKER = EXAMPLE / "config" / "worker.yaml"


def transitions(db: Path) -> list[tuple[str, str, str]]:
    conn = connect(db)
    try:
        rows = records_sql.list_transitions(conn, machine="worker", limit=None)
    finally:
        conn.close()
    return sorted((r["from_state"], r["event"], r["to_state"]) for r in rows)


async def test_open_runtime_records_into_statemachine_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "embedded.db"
    monkeypatch.setenv("STATEMACHINE_DB", str(db))
    with trio.fail_after(10):
        async with open_runtime() as rt:
            assert rt.store is not None
            worker = await rt.spawn(load_config(WORKER), name="worker")
            await worker.send("new_job", {"id": 7})
            await worker.wait_stopped()
    assert transitions(db) == [
        ("processing", "job_done", "completed"),
        ("waiting", "new_job", "processing"),
    ]


async def test_without_statemachine_db_a_runtime_keeps_no_records(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STATEMACHINE_DB", raising=False)
    async with open_runtime() as rt:
        assert rt.store is None


def test_simulate_takes_the_events_as_a_list_of_dicts() -> None:
    events = [{"at": 0.5, "target": "embedded_worker", "type": "new_job", "payload": {"id": 7}}]
    result = simulate([WORKER], events)
    assert [(e.t, e.from_state, e.event, e.to_state) for e in result.transitions] == [
        (0.5, "waiting", "new_job", "processing"),
        (0.5, "processing", "job_done", "completed"),
    ]


def test_simulate_names_a_bad_event_dict() -> None:
    with pytest.raises(ConfigError, match="nobody"):
        simulate([WORKER], [{"at": 1, "target": "nobody", "type": "go"}])
