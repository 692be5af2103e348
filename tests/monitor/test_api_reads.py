"""The monitor's read API over a database: every endpoint, its paging and its refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_support import T0, call, seed

from statemachine_engine.monitor import MonitorApp, MonitorHub
from statemachine_engine.persistence import browse_file


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every read runs on a SQLite file and on a PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "db.sqlite")


@pytest.fixture
async def app(database: str) -> AsyncIterator[MonitorApp]:
    await seed(database)
    browse = browse_file(database)
    yield MonitorApp(MonitorHub(), browse=browse)
    browse.close()


async def test_machines_lists_running_and_ended_with_counts(app: MonitorApp) -> None:
    page = (await call(app, "/api/machines")).json()
    assert page["counts"] == {"running": 1, "finished": 1, "failed": 1, "stopped": 0, "all": 3}
    rows = {m["name"]: m for m in page["machines"]}
    assert {n: (m["status"], m["state"], m["config"]) for n, m in rows.items()} == {
        "done": ("finished", "finished", "worker"),
        "crashed": ("failed", "working", "worker"),
        "busy": ("running", "working", "worker"),
    }
    assert set(rows["busy"]) >= {
        "name", "config", "state", "status", "started_at", "updated_at", "job_id",
        "last_event", "durable", "host",
    }  # fmt: skip
    assert rows["done"]["last_event"] == "end"
    assert page["next_before"] is None

    failed = (await call(app, "/api/machines", query={"status": "failed"})).json()
    assert [m["name"] for m in failed["machines"]] == ["crashed"]
    assert failed["counts"]["all"] == 3
    assert [m["name"] for m in (await call(app, "/api/machines", query={"q": "bus"})).json()[
        "machines"
    ]] == ["busy"]  # fmt: skip
    first = (await call(app, "/api/machines", query={"limit": 2})).json()
    rest = (
        await call(app, "/api/machines", query={"limit": 2, "before": first["next_before"]})
    ).json()
    assert len(first["machines"]) == 2 and len(rest["machines"]) == 1


@pytest.mark.parametrize(
    ("path", "query", "message"),
    [
        ("/api/machines", {"status": "sleeping"}, "status='sleeping' is not one of"),
        ("/api/machines", {"limit": "ten"}, "limit='ten' is not a whole number"),
        ("/api/machines", {"limit": "0"}, "limit=0 is out of range"),
        ("/api/machines", {"before": "x"}, "before='x' is not a cursor"),
        ("/api/machines/done/history", {"kind": "nap"}, "kind='nap' is not one of"),
        ("/api/machines/done/history", {"before": "1:2"}, "is not a cursor"),
        ("/api/activity", {"limit": "501"}, "limit=501 is out of range"),
        ("/api/jobs", {"status": "lost"}, "status='lost' is not one of"),
        ("/api/jobs", {"before": "soon"}, "before='soon' is not a cursor"),
        ("/api/jobs/stats", {"minutes": "0"}, "minutes=0 is out of range"),
        ("/api/search", {}, "q= is missing"),
        ("/api/audit", {"before": "last"}, "before='last' is not a cursor"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    app: MonitorApp, path: str, query: dict[str, str], message: str
) -> None:
    reply = await call(app, path, query=query)
    assert reply.status == 400
    assert message in reply.error


async def test_one_machine_and_unknown_ones(app: MonitorApp) -> None:
    assert (await call(app, "/api/machines/crashed")).json()["machine"]["status"] == "failed"
    for path in ("/api/machines/ghost", "/api/machines/ghost/history"):
        reply = await call(app, path)
        assert reply.status == 404
        assert reply.error == "unknown machine 'ghost': the database has no record of it"


async def test_history_is_the_machines_timeline_newest_first(app: MonitorApp) -> None:
    page = (await call(app, "/api/machines/done/history")).json()
    assert page["machine"] == "done"
    assert [(i["kind"], i["at"] - T0) for i in page["items"]] == [
        ("transition", 21.0),
        ("activity", 20.0),
        ("transition", 10.0),
    ]
    first = (await call(app, "/api/machines/done/history", query={"limit": 2})).json()
    rest = (
        await call(
            app, "/api/machines/done/history", query={"limit": 2, "before": first["next_before"]}
        )
    ).json()
    assert first["items"] + rest["items"] == page["items"]
    only = (await call(app, "/api/machines/done/history", query={"kind": "activity"})).json()
    assert [i["message"] for i in only["items"]] == ["step 1"]


async def test_activity_backfills_every_machine(app: MonitorApp) -> None:
    items = (await call(app, "/api/activity")).json()["items"]
    assert items[0] == {
        "kind": "error", "at": T0 + 22, "id": items[0]["id"], "state": "working",
        "message": "machine crashed", "action": "(runtime)", "machine": "crashed",
    }  # fmt: skip
    assert {i["machine"] for i in items} == {"done", "crashed", "busy"}


async def test_jobs_job_and_stats(app: MonitorApp) -> None:
    page = (await call(app, "/api/jobs")).json()
    assert {j["job_id"]: j["status"] for j in page["jobs"]} == {
        "job-failed": "failed",
        "job-pending": "pending",
        "job-held": "processing",
        "job-done": "completed",
    }
    assert page["counts"]["all"] == 4
    failed = (await call(app, "/api/jobs", query={"status": "failed", "type": "worker"})).json()
    assert [j["job_id"] for j in failed["jobs"]] == ["job-failed"]
    assert [j["job_id"] for j in (await call(app, "/api/jobs", query={"q": "held"})).json()[
        "jobs"
    ]] == ["job-held"]  # fmt: skip
    assert (await call(app, "/api/jobs", query={"machine": "other"})).json()["jobs"] == []
    job = (await call(app, "/api/jobs/job-failed")).json()["job"]
    assert (job["error_message"], job["attempts"]) == ("broken", 1)
    missing = await call(app, "/api/jobs/nope")
    assert (missing.status, missing.error) == (404, "unknown job 'nope'")
    stats = (await call(app, "/api/jobs/stats", query={"minutes": 5})).json()
    assert len(stats["minutes"]) == 5
    assert set(stats["minutes"][0]) == {"at", "completed", "failed", "depth"}
    assert isinstance(stats["transitions_per_second"], dict)


async def test_the_page_is_told_a_database_is_read(app: MonitorApp) -> None:
    assert (await call(app, "/api/config")).json()["database"] is True


async def test_search_and_audit(app: MonitorApp) -> None:
    found = (await call(app, "/api/search", query={"q": "done"})).json()
    assert [m["name"] for m in found["machines"]] == ["done"]
    assert [j["job_id"] for j in found["jobs"]] == ["job-done"]
    assert (await call(app, "/api/audit")).json() == {"entries": [], "next_before": None}


async def test_without_a_database_the_store_endpoints_say_so() -> None:
    app = MonitorApp(MonitorHub())
    assert (await call(app, "/api/config")).json()["database"] is False
    for path in ("/api/machines/x", "/api/activity", "/api/jobs", "/api/audit"):
        reply = await call(app, path)
        assert reply.status == 503
        assert "--db PATH" in reply.error


async def test_an_unreadable_database_is_503(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is no database" * 100)
    reply = await call(MonitorApp(MonitorHub(), browse=browse_file(path)), "/api/jobs")
    assert reply.status == 503
    assert "the database cannot be read" in reply.error and "not a SQLite database" in reply.error
