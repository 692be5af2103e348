"""The job queue as the monitor sees it and acts on it: pages, filters, search, the last
hour per minute, and the operator's audited actions (retry, cancel, requeue, bulk retry)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from statemachine_engine.errors import JobNotFound
from statemachine_engine.persistence import JobStateError, SqliteStore, connect
from statemachine_engine.persistence._jobs_admin_sql import minute_stats


async def fail_for_good(store: SqliteStore, job_id: str, worker: str = "w") -> None:
    assert await store.claim(job_id, worker=worker) is not None
    await store.fail(job_id, error="broken", retry=False, worker=worker)


async def test_jobs_are_paged_filtered_and_searched(store: SqliteStore) -> None:
    for i in range(5):
        await store.add_job(f"img-{i}", "image" if i % 2 else "text", machine_type="worker")
    await fail_for_good(store, "img-1")
    first = await store.browse.jobs(limit=2)
    assert [j["job_id"] for j in first["jobs"]] == ["img-4", "img-3"]
    rest = await store.browse.jobs(limit=10, before=first["next_before"])
    assert [j["job_id"] for j in rest["jobs"]] == ["img-2", "img-1", "img-0"]
    assert rest["next_before"] is None
    assert first["counts"] == {
        "pending": 4, "processing": 0, "completed": 0, "failed": 1, "cancelled": 0, "all": 5,
    }  # fmt: skip
    assert [j["job_id"] for j in (await store.browse.jobs(status="failed"))["jobs"]] == ["img-1"]
    images = await store.browse.jobs(job_type="image")
    assert [j["job_id"] for j in images["jobs"]] == ["img-3", "img-1"]
    assert (await store.browse.jobs(machine_type="other"))["jobs"] == []
    assert [j["job_id"] for j in (await store.browse.jobs(q="g-2"))["jobs"]] == ["img-2"]
    # LIKE's wildcards in the text are taken literally
    assert (await store.browse.jobs(q="%"))["jobs"] == []
    assert (await store.browse.job("img-1") or {})["error_message"] == "broken"
    assert await store.browse.job("nope") is None
    with pytest.raises(ValueError, match="status='done' is not one of"):
        await store.browse.jobs(status="done")
    with pytest.raises(ValueError, match="is not a cursor"):
        await store.browse.jobs(before="yesterday")


async def test_retry_cancel_requeue_and_their_audit(store: SqliteStore) -> None:
    for job_id in ("failed", "pending", "held"):
        await store.add_job(job_id, "t")
    await fail_for_good(store, "failed")
    assert await store.claim("held", worker="w2") is not None

    retried = await store.browse.retry_job("failed", actor="ui:1.2.3.4")
    assert (retried["status"], retried["attempts"], retried["error_message"]) == (
        "pending",
        0,
        None,
    )
    cancelled = await store.browse.cancel_job("pending", actor="cli:ada")
    assert (cancelled["status"], cancelled["error_message"]) == ("failed", "cancelled by operator")
    requeued = await store.browse.requeue_job("held", actor="cli:ada")
    assert (requeued["status"], requeued["claimed_by"], requeued["lease_until"]) == (
        "pending", None, None,
    )  # fmt: skip
    # the worker that held it can no longer complete it
    with pytest.raises(Exception, match="held"):
        await store.complete("held", worker="w2")

    with pytest.raises(JobStateError, match="job held is pending, not failed"):
        await store.browse.retry_job("held", actor="cli:ada")
    with pytest.raises(JobStateError, match="job pending is cancelled, not pending"):
        await store.browse.cancel_job("pending", actor="cli:ada")
    with pytest.raises(JobStateError, match="job held is pending, not processing"):
        await store.browse.requeue_job("held", actor="cli:ada")
    with pytest.raises(JobNotFound):
        await store.browse.retry_job("ghost", actor="cli:ada")

    log = (await store.browse.audit_entries())["entries"]
    assert [(e["actor"], e["action"], e["target"], e["result"]) for e in log] == [
        ("cli:ada", "retry", "ghost", "job 'ghost' not found"),
        ("cli:ada", "requeue", "held", "job held is pending, not processing"),
        ("cli:ada", "cancel", "pending", "job pending is cancelled, not pending"),
        ("cli:ada", "retry", "held", "job held is pending, not failed"),
        ("cli:ada", "requeue", "held", "ok"),
        ("cli:ada", "cancel", "pending", "ok"),
        ("ui:1.2.3.4", "retry", "failed", "ok"),
    ]
    assert (await store.browse.jobs())["counts"]["cancelled"] == 1
    page = await store.browse.audit_entries(limit=3)
    more = await store.browse.audit_entries(limit=10, before=page["next_before"])
    assert [e["id"] for e in page["entries"] + more["entries"]] == [e["id"] for e in log]


async def test_bulk_retry_takes_the_failed_jobs_of_the_filter(store: SqliteStore) -> None:
    for job_id, job_type in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a")]:
        await store.add_job(job_id, job_type)
    for job_id in ("a1", "a2", "b1"):
        await fail_for_good(store, job_id)
    await store.browse.cancel_job("a3", actor="x")  # cancelled: left be
    ids = await store.browse.retry_jobs(actor="ui:x", job_type="a")
    assert sorted(ids) == ["a1", "a2"]
    assert (await store.browse.job("b1") or {})["status"] == "failed"
    assert (await store.browse.job("a3") or {})["status"] == "failed"
    entry = (await store.browse.audit_entries())["entries"][0]
    assert (entry["action"], entry["detail"], entry["result"]) == (
        "bulk-retry", {"type": "a", "count": 2}, "ok",
    )  # fmt: skip
    assert await store.browse.retry_jobs(actor="ui:x", job_type="a") == []


def test_minute_stats_count_ends_and_the_waiting_queue(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite")
    now = 10_000 * 60.0 + 30.0  # half-way through a minute
    rows = [
        # job_id, status, created, started, completed
        ("c1", "completed", now - 150, now - 140, now - 130),  # ended two minutes ago
        ("f1", "failed", now - 100, now - 95, now - 90),
        ("c2", "completed", now - 20, now - 10, now - 5),  # this minute
        ("p1", "pending", now - 3600 * 2, None, None),  # waiting since before the hour
        ("p2", "pending", now - 70, None, None),  # waiting since last minute
        ("r1", "processing", now - 200, now - 65, None),  # waited until it was claimed
    ]
    for job_id, status, created, started, completed in rows:
        conn.execute("INSERT INTO jobs (job_id, job_type, status, created_at, started_at,"
                     " completed_at, run_at) VALUES (?, 't', ?, ?, ?, ?, ?)",
                     (job_id, status, created, started, completed, created))  # fmt: skip
    minutes = minute_stats(conn, now=now, minutes=5)
    assert [m["at"] for m in minutes] == [now - 30 - 60 * k for k in (4, 3, 2, 1, 0)]
    assert [(m["completed"], m["failed"]) for m in minutes] == [
        (0, 0), (0, 0), (1, 0), (0, 1), (1, 0),
    ]  # fmt: skip
    # at each minute's end (now - 210, -150, -90, -30, then now): p1 always; c1 from
    # now - 150 until claimed at now - 140; r1 from now - 200 until now - 65; p2 from now - 70
    assert [m["depth"] for m in minutes] == [1, 3, 2, 2, 2]
    with pytest.raises(ValueError, match="minutes=0 is out of range"):
        minute_stats(conn, now=now, minutes=0)


async def test_stats_include_transitions_per_second(store: SqliteStore, epoch: float) -> None:
    now = epoch + trio.current_time()
    store.machine_started("m", current_state="a", config_type="cfg", pid=None, endpoint=None,
                          timestamp=now)  # fmt: skip
    for i in range(6):
        store.transition("m", from_state="a", to_state="a", event="e", timestamp=now - i)
    stats = await store.browse.stats(minutes=60)
    assert len(stats["minutes"]) == 60
    assert stats["transitions_per_second"] == {"cfg": pytest.approx(6 / 60)}


async def test_search_finds_machines_and_jobs(store: SqliteStore, epoch: float) -> None:
    store.machine_started("resize_7", current_state="a", config_type="cfg", pid=None,
                          endpoint=None, timestamp=epoch)  # fmt: skip
    await store.add_job("resize-job", "t")
    await store.add_job("other", "t")
    found = await store.browse.search("resize")
    assert [m["name"] for m in found["machines"]] == ["resize_7"]
    assert [j["job_id"] for j in found["jobs"]] == ["resize-job"]
