"""Writes into PostgreSQL: group commit, and a connection lost while running (retried,
nothing lost, nothing written twice)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import trio

from statemachine_engine.persistence import NewJob, open_store


def _terminate_store_connections(url: str) -> int:
    """pg_terminate_backend on every connection of the store's database, from a superuser
    connection of its own (as an administrator, or a failover, would cut them)."""
    dbname = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return len(rows)


async def test_many_records_are_written_in_few_commits(pg_url: str) -> None:
    async with open_store(pg_url) as store:
        store.machine_started(
            "m", current_state="s0", config_type="c", pid=1, endpoint=None, timestamp=0.0
        )
        for n in range(2_000):
            store.transition(
                "m", from_state=f"s{n}", to_state=f"s{n + 1}", event="go", timestamp=float(n)
            )
        await store.flush()
        batches = store.statistics()["batches"]
        history = await store.transitions(machine="m", limit=None)  # type: ignore[attr-defined]
        row = await store.machine("m")
    assert len(history) == 2_000
    assert row is not None and row["current_state"] == "s2000"
    assert batches <= 20, f"{batches} commits for 2,000 records"


async def test_a_connection_cut_while_running_is_retried_and_nothing_is_lost_or_doubled(
    pg_url: str,
) -> None:
    async with open_store(pg_url) as store:
        store.machine_started(
            "m", current_state="s0", config_type="c", pid=1, endpoint=None, timestamp=0.0
        )
        added = 0
        with trio.fail_after(60):
            for round_ in range(20):
                await store.add_jobs(NewJob(f"r{round_}-{i}", "t") for i in range(50))
                added += 50
                for n in range(50):
                    step = round_ * 50 + n
                    store.transition(
                        "m", from_state=f"s{step}", to_state=f"s{step + 1}", event="go",
                        timestamp=float(step),
                    )  # fmt: skip
                if round_ in (5, 12):
                    assert _terminate_store_connections(pg_url) >= 1
            await store.flush()
        counts = await store.count_jobs()
        history = await store.transitions(machine="m", limit=None)  # type: ignore[attr-defined]
        status = store.connection  # type: ignore[attr-defined]
    assert counts["total"] == added == 1_000
    assert len(history) == 1_000
    assert sorted(row["to_state"] for row in history) == sorted(f"s{n + 1}" for n in range(1_000))
    assert status["retries"] >= 1 and status["connected"] and status["waiting_since"] is None


async def test_a_commit_whose_outcome_was_lost_is_not_written_again(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_store(pg_url) as store:
        await store.add_job("before", "t")  # the write connection is open
        conn: Any = store._pg._conn  # type: ignore[attr-defined]
        real_commit = conn.commit
        cut: list[bool] = []

        def commit_then_lose_the_answer() -> None:
            real_commit()
            if not cut:
                cut.append(True)
                conn.close()  # the COMMIT got through; its answer did not
                raise psycopg.OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(conn, "commit", commit_then_lose_the_answer)
        job = await store.add_job("once", "t")
        jobs = await store.list_jobs(limit=None)
        retries = store.connection["retries"]  # type: ignore[attr-defined]
    assert cut and retries == 1
    assert job.job_id == "once" and job.status == "pending"
    assert sorted(j.job_id for j in jobs) == ["before", "once"]


async def test_a_batch_cut_before_its_commit_is_written_once_after_the_reconnect(
    pg_url: str,
) -> None:
    async with open_store(pg_url) as store:
        await store.add_job("before", "t")
        cut: list[bool] = []

        def add_then_cut(conn: Any, now: float) -> str:
            conn.execute(
                "INSERT INTO jobs (job_id, job_type, status, run_at, priority, attempts,"
                " max_attempts) VALUES ('inside', 't', 'pending', ?, 5, 0, 3)",
                (now,),
            )
            if not cut:
                cut.append(True)
                conn.raw.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return "done"

        with trio.fail_after(30):
            assert await store._writer.request(add_then_cut) == "done"  # type: ignore[attr-defined]
        jobs = await store.list_jobs(limit=None)
    assert cut
    assert sorted(j.job_id for j in jobs) == ["before", "inside"]
