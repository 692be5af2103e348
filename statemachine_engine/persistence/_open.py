"""Opening a store: its connections, then the store running on them; the connections close
last, after the store has written what was queued."""

from __future__ import annotations

import math
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, cast

from statemachine_engine.persistence._connections import open_connections
from statemachine_engine.persistence._jobs_sql import DEFAULT_LEASE_SECONDS, DEFAULT_RETRY_BACKOFF
from statemachine_engine.persistence._paths import MEMORY, host_name, is_db_url
from statemachine_engine.persistence._schema import DEFAULT_BUSY_TIMEOUT
from statemachine_engine.persistence._sql_store import SqlStore
from statemachine_engine.persistence._store import SqliteStore

#: the durability of a commit: ``normal`` survives kill -9, ``full`` also a power loss
SYNC_MODES = ("normal", "full")


@asynccontextmanager
async def open_store(
    path: str | os.PathLike[str],
    *,
    clock: Callable[[], float] = time.time,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll_interval: float = 5.0,
    sweep_interval: float = 5.0,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
    queue_size: int = 100_000,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    close_timeout: float = 10.0,
    inline_writes: bool = True,
    synchronous: str = "normal",
    host: str | None = None,
) -> AsyncIterator[SqlStore]:
    """Open the store at ``path`` (``":memory:"`` for a private in-memory database, a
    ``postgresql://USER@HOST:PORT/DB`` URL for a PostgreSQL database several hosts share:
    see :func:`~statemachine_engine.persistence._pg_store.open_postgres_store`).

    The file, its folder and the schema are created on first use. On exit, queued
    records are written (for at most ``close_timeout`` seconds, even when cancelled),
    then the connections close. ``clock`` gives the wall-clock timestamps the store
    writes (job times, leases); simulations pass a virtual one.

    A write transaction on a file runs on the trio thread when SQLite's lock is free, and
    in the write connection's thread (waiting up to ``busy_timeout`` seconds for the lock)
    when another process holds it; ``inline_writes=False`` always uses the thread.

    ``synchronous``: ``"normal"`` (WAL, a commit does not wait for the disk: nothing
    committed is lost when the process is killed, the last commits may be lost with the
    power) or ``"full"`` (every commit waits for the disk: power-loss safe, slower).

    ``host``: written in the registry rows of this runtime's machines (default:
    ``$STATEMACHINE_HOST``, else this machine's host name), so that hosts sharing a
    database know their own rows.
    """
    if synchronous not in SYNC_MODES:
        raise ValueError(f"synchronous must be one of {', '.join(SYNC_MODES)}, got {synchronous!r}")
    if is_db_url(os.fspath(path)):
        from statemachine_engine.persistence._pg_store import open_postgres_store

        async with open_postgres_store(
            os.fspath(path),
            clock=clock,
            lease_seconds=lease_seconds,
            poll_interval=poll_interval,
            sweep_interval=sweep_interval,
            retry_backoff=retry_backoff,
            queue_size=queue_size,
            close_timeout=close_timeout,
            synchronous=synchronous,
            host=host,
        ) as pg_store:
            yield pg_store
        return
    if lease_seconds <= 0 or not math.isfinite(lease_seconds):
        raise ValueError(f"lease_seconds must be a positive number, got {lease_seconds}")
    connections = await open_connections(
        os.fspath(path),
        busy_timeout=busy_timeout,
        inline_writes=inline_writes,
        synchronous=synchronous,
    )
    store = SqliteStore(
        connections,
        clock=clock,
        lease_seconds=lease_seconds,
        poll_interval=poll_interval,
        sweep_interval=sweep_interval,
        retry_backoff=retry_backoff,
        queue_size=queue_size,
        host=host or host_name(),
    )
    try:
        async with store.running(close_timeout=close_timeout):
            yield store
    finally:
        connections.close()


def open_memory_store(**kwargs: Any) -> AbstractAsyncContextManager[SqliteStore]:
    """``open_store(":memory:", ...)``: a private database for tests and simulation."""
    return cast("AbstractAsyncContextManager[SqliteStore]", open_store(MEMORY, **kwargs))
