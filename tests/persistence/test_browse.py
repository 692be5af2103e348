"""The monitor's reads of a store: machines and how their status is derived, timelines paged
newest first, activity lines kept, and a file browsed from another process."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.persistence import SqliteStore, browse_file, connect
from statemachine_engine.persistence._browse_sql import machine_page
from statemachine_engine.persistence._schema import schema_version

CFG = "worker"


def start(store: SqliteStore, name: str, at: float, *, pid: int | None = None) -> None:
    store.machine_started(
        name, current_state="idle", config_type=CFG, pid=pid, endpoint=None, timestamp=at
    )


def move(store: SqliteStore, name: str, to: str, at: float, **context: Any) -> None:
    store.transition(name, from_state="idle", to_state=to, event=f"go_{to}", timestamp=at,
                     context=context or None)  # fmt: skip


async def test_status_of_every_machine_the_store_knows(store: SqliteStore, epoch: float) -> None:
    epoch += trio.current_time()  # the store's clock: the ends it records are "now"
    for i, name in enumerate(["done", "crashed", "halted", "busy"]):
        start(store, name, epoch + i)
    move(store, "done", "finished_ok", epoch + 10, job_id="j-done")
    store.machine_stopped("done")
    move(store, "crashed", "working", epoch + 11)
    store.error("crashed", state="working", action="(runtime)", message="machine crashed: boom",
                traceback=None, timestamp=epoch + 12)  # fmt: skip
    store.machine_stopped("crashed")
    store.machine_stopped("halted", give_back_jobs=True)  # stopped on purpose
    move(store, "busy", "working", epoch + 13, job_id="j-busy")
    page = await store.browse.machines()
    by_name = {m["name"]: m for m in page["machines"]}
    assert {n: (m["status"], m["state"]) for n, m in by_name.items()} == {
        "done": ("finished", "finished_ok"),
        "crashed": ("failed", "working"),
        "halted": ("stopped", None),
        "busy": ("running", "working"),
    }
    assert by_name["done"]["job_id"] == "j-done"  # kept from its last context
    assert by_name["busy"]["job_id"] == "j-busy"
    assert by_name["busy"]["last_event"] == "go_working"
    assert by_name["busy"]["config"] == CFG
    assert page["counts"] == {"running": 1, "finished": 1, "failed": 1, "stopped": 1, "all": 4}
    # most recently active first
    assert page["machines"][0]["name"] == "busy"

    failed = await store.browse.machines(status="failed")
    assert [m["name"] for m in failed["machines"]] == ["crashed"]
    assert failed["counts"]["all"] == 4  # counts ignore the filter
    assert [m["name"] for m in (await store.browse.machines(q="FINISHED_ok"))["machines"]] == [
        "done"
    ]
    assert await store.browse.machine("nobody") is None
    assert (await store.browse.machine("crashed") or {})["status"] == "failed"


async def test_a_restarted_machine_runs_again(store: SqliteStore, epoch: float) -> None:
    start(store, "m", epoch)
    store.machine_stopped("m")
    start(store, "m", epoch + 5)
    machine = await store.browse.machine("m")
    assert machine is not None and machine["status"] == "running"
    assert machine["started_at"] == epoch + 5


def test_registry_row_of_a_dead_process_or_of_an_older_program(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite")
    conn.execute(
        "INSERT INTO machine_state (machine_name, current_state, last_activity, pid, config_type)"
        " VALUES ('old', 's', 5.0, 111, 'c'), ('gone', 's', 6.0, 222, 'c')"
    )
    conn.execute("INSERT INTO machine_runs (machine_name, status, started_at, pid)"
                 " VALUES ('gone', 'running', 1.0, 222)")  # fmt: skip
    page = machine_page(conn, alive=lambda pid: pid != 222)
    assert {m["name"]: m["status"] for m in page["machines"]} == {
        "old": "running",  # no run row: written by a program that keeps none
        "gone": "stopped",  # its runtime was killed: the row stayed behind
    }


async def test_machines_are_paged_by_activity(store: SqliteStore, epoch: float) -> None:
    for i in range(5):
        start(store, f"m{i}", epoch + i)
    first = await store.browse.machines(limit=2)
    assert [m["name"] for m in first["machines"]] == ["m4", "m3"]
    second = await store.browse.machines(limit=2, before=first["next_before"])
    third = await store.browse.machines(limit=2, before=second["next_before"])
    assert [m["name"] for m in second["machines"] + third["machines"]] == ["m2", "m1", "m0"]
    assert third["next_before"] is None
    with pytest.raises(ValueError, match="before='nonsense' is not a cursor"):
        await store.browse.machines(before="nonsense")
    with pytest.raises(ValueError, match="status='done' is not one of"):
        await store.browse.machines(status="done")


async def test_timeline_merges_kinds_newest_first(store: SqliteStore, epoch: float) -> None:
    start(store, "m", epoch)
    move(store, "m", "a", epoch + 1)
    store.activity("m", message="hello", level="info", fields={"job_id": "j1", "stream": "stdout"},
                   timestamp=epoch + 2)  # fmt: skip
    store.error("m", state="a", action="bash", message="exit 1", traceback="tb",
                timestamp=epoch + 3)  # fmt: skip
    start(store, "other", epoch)
    move(store, "other", "b", epoch + 4)
    history = await store.browse.history("m")
    assert history["next_before"] is None
    assert [(i["kind"], i["at"] - epoch) for i in history["items"]] == [
        ("error", 3.0),
        ("activity", 2.0),
        ("transition", 1.0),
    ]
    error, activity, transition = history["items"]
    assert (error["state"], error["action"], error["message"]) == ("a", "bash", "exit 1")
    assert (activity["message"], activity["level"], activity["fields"]) == (
        "hello", "info", {"stream": "stdout"},
    )  # fmt: skip
    assert (transition["from_state"], transition["to_state"], transition["event"]) == (
        "idle", "a", "go_a",
    )  # fmt: skip
    everyone = await store.browse.history(None, kinds=["transition"])
    assert [(i["machine"], i["to_state"]) for i in everyone["items"]] == [
        ("other", "b"),
        ("m", "a"),
    ]


async def test_pages_of_equal_timestamps_skip_and_repeat_nothing(
    store: SqliteStore, epoch: float
) -> None:
    start(store, "m", epoch)
    for i in range(7):  # seven items of three kinds, all at one instant
        if i % 3 == 0:
            move(store, "m", f"s{i}", epoch + 1)
        elif i % 3 == 1:
            store.activity("m", message=f"line {i}", level="info", fields={}, timestamp=epoch + 1)
        else:
            store.error("m", state=None, action=None, message=f"e{i}", traceback=None,
                        timestamp=epoch + 1)  # fmt: skip
    seen: list[tuple[str, int]] = []
    before = None
    while True:
        page = await store.browse.history("m", limit=2, before=before)
        seen += [(i["kind"], i["id"]) for i in page["items"]]
        before = page["next_before"]
        if before is None:
            break
    whole = await store.browse.history("m", limit=50)
    assert seen == [(i["kind"], i["id"]) for i in whole["items"]]
    assert len(seen) == len(set(seen)) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"kinds": ["transitions"]}, "kind='transitions' is not one of"),
        ({"limit": 0}, "limit=0 is out of range: 1 to 500"),
        ({"limit": 501}, "limit=501 is out of range"),
        ({"before": "1.0:nothing:3"}, "is not a cursor"),
        ({"before": "nan:error:3"}, "is not a cursor"),
    ],
)
async def test_timeline_refuses_bad_parameters(
    store: SqliteStore, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await store.browse.history("m", **args)


def test_migration_from_version_2_enters_known_machines(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = connect(path, migrate=False)
    from statemachine_engine.persistence._schema import MIGRATIONS, transaction

    with transaction(conn):
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for step in MIGRATIONS[:2]:
            step(conn)
        conn.execute("INSERT INTO schema_version VALUES (2)")
        conn.execute("INSERT INTO machine_state (machine_name, current_state, last_activity,"
                     " config_type, started_at) VALUES ('live', 's', 9.0, 'c', 8.0)")  # fmt: skip
        conn.execute("INSERT INTO state_transitions (machine_name, from_state, to_state, event,"
                     " timestamp) VALUES ('ended', 'a', 'b', 'e', 3.0), ('ended', 'b', 'c', 'e',"
                     " 4.0)")  # fmt: skip
    conn.close()
    conn = connect(path)
    rows = {r["machine_name"]: r for r in conn.execute("SELECT * FROM machine_runs")}
    assert schema_version(conn) >= 3
    assert (rows["live"]["status"], rows["live"]["started_at"]) == ("running", 8.0)
    assert (rows["ended"]["status"], rows["ended"]["started_at"], rows["ended"]["ended_at"]) == (
        "finished", 3.0, 4.0,
    )  # fmt: skip
    page = machine_page(conn)
    assert {m["name"]: (m["status"], m["state"]) for m in page["machines"]} == {
        "live": ("running", "s"),
        "ended": ("finished", "c"),
    }


async def test_a_missing_file_reads_empty_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "none.db"
    browse = browse_file(path)
    page = await browse.machines()
    assert page["machines"] == [] and page["counts"]["all"] == 0
    assert (await browse.jobs())["jobs"] == []
    assert not path.exists()


async def test_a_file_written_by_a_store_is_browsed_from_outside(
    tmp_path: Path, epoch: float
) -> None:
    from statemachine_engine.persistence import open_store

    path = tmp_path / "db.sqlite"
    async with open_store(path) as store:
        start(store, "m", epoch)
        move(store, "m", "a", epoch + 1)
        store.activity("m", message="line", level="warning", fields={}, timestamp=epoch + 2)
        await store.flush()
        browse = browse_file(path)
        machine = await browse.machine("m")
        assert machine is not None and machine["state"] == "a"
        items = (await browse.history("m"))["items"]
        assert [i["kind"] for i in items] == ["activity", "transition"]


def test_timeline_uses_indexes(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite")
    for table in ("state_transitions", "errors", "activity_log"):
        plan = _plan(conn, f"SELECT id FROM {table} WHERE machine_name = ? AND timestamp < ?"
                     " ORDER BY timestamp DESC, id DESC LIMIT 5", ("m", 1.0))  # fmt: skip
        assert "USING" in plan and "TEMP B-TREE" not in plan, (table, plan)


def _plan(conn: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> str:
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row["detail"]) for row in rows)


async def test_run_rows_commit_with_the_history(store: SqliteStore, epoch: float) -> None:
    start(store, "m", epoch)
    await trio.testing.wait_all_tasks_blocked()
    await store.flush()
    assert (await store.browse.machines())["counts"]["running"] == 1
