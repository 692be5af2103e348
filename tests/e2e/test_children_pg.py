"""``start_fsm`` with ``process: true`` on PostgreSQL: the child gets the database URL as it
is (not made a path), in its environment (not its command line, which ``ps`` shows)."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from statemachine_engine.persistence import connect_postgres

from .conftest import Cluster
from .test_children import send, start_parent

pytestmark = pytest.mark.slow


def _registry(url: str, machine: str) -> dict[str, Any] | None:
    conn = connect_postgres(url)
    try:
        row = conn.execute(
            "SELECT * FROM machine_state WHERE machine_name = ?", (machine,)
        ).fetchone()
        return dict(row) if row is not None else None
    finally:
        conn.close()


async def test_a_child_process_shares_the_postgresql_database(
    cluster: Cluster, pg_url: str
) -> None:
    # the last --db wins over the cluster's SQLite file
    parent = await _start_on(cluster, pg_url)
    await cluster.events.wait_state("parent", "watching")
    row = await cluster.wait_db("kid's row in PostgreSQL", lambda: _registry(pg_url, "kid"))
    cluster.extra_pids.append(int(row["pid"]))
    with open(f"/proc/{row['pid']}/cmdline", "rb") as cmdline:
        argv = cmdline.read().split(b"\0")
    assert b"--db" not in argv and pg_url.encode() not in argv
    with open(f"/proc/{row['pid']}/environ", "rb") as environ:
        assert f"STATEMACHINE_DB={pg_url}".encode() in environ.read().split(b"\0")

    await trio.to_thread.run_sync(send, cluster, "kid", "finish")
    await cluster.events.wait_state("parent", "child_finished")
    await trio.to_thread.run_sync(send, cluster, "parent", "stop")
    assert await parent.wait() == 0
    assert not cluster.db.exists()  # nothing went to a file named after the URL


async def _start_on(cluster: Cluster, url: str) -> Any:
    original = cluster.common_args

    def on_postgres() -> list[str]:
        return [*original(), "--db", url]

    cluster.common_args = on_postgres  # type: ignore[method-assign]
    return await start_parent(cluster, "kid")
