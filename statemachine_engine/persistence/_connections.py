"""Where SQLite calls run: worker threads for a file, inline for ``:memory:``.

A file database has one write connection, owned by a dedicated thread that runs the writer
task's batches (a long-lived thread hands work over about twice as fast as
``trio.to_thread``, which matters when one worker claims and completes jobs back to back),
and a small pool of read connections used from worker threads, so reads never wait for a
commit (WAL) and nothing blocks the trio loop.

The in-memory database is one connection used inline on the trio thread. It never touches
a disk, so a call takes microseconds; running it inline keeps simulations deterministic
(a thread hand-off would let an autojump clock leap ahead while SQLite works).
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._paths import MEMORY
from statemachine_engine.persistence._schema import connect, raise_store_error

T = TypeVar("T")

#: read connections opened at most (and threads reading at once)
MAX_READERS = 4


class Connections(Protocol):
    path: str

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the write connection (the writer task is its only caller)."""
        ...

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    def close(self) -> None: ...


async def open_connections(path: str, *, busy_timeout: float) -> Connections:
    """Open ``path`` (schema created or migrated) and return its connections."""
    if path == MEMORY:
        return MemoryConnections(connect(MEMORY))
    writer = await trio.to_thread.run_sync(
        lambda: connect(path, busy_timeout=busy_timeout, check_same_thread=False)
    )
    return FileConnections(path, writer, busy_timeout=busy_timeout)


class FileConnections:
    def __init__(self, path: str, writer: sqlite3.Connection, *, busy_timeout: float) -> None:
        self.path = path
        self._writer = _WriterThread(writer, path)
        self._busy_timeout = busy_timeout
        self._read_limiter = trio.CapacityLimiter(MAX_READERS)
        self._idle: list[sqlite3.Connection] = []
        self._closed = False

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        return await self._writer.run(fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        async with self._read_limiter:
            conn = self._idle.pop() if self._idle else None
            try:
                if conn is None:
                    conn = await trio.to_thread.run_sync(self._open_reader)
                result = await trio.to_thread.run_sync(_call_reporting, fn, conn, self.path)
            except BaseException:
                if conn is not None:
                    conn.close()  # a connection that failed mid-read is not reused
                raise
            if self._closed:
                conn.close()
            else:
                self._idle.append(conn)
            return result

    def _open_reader(self) -> sqlite3.Connection:
        return connect(
            self.path, busy_timeout=self._busy_timeout, check_same_thread=False, migrate=False
        )

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.path} is closed")

    def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._writer.close()


class _WriterThread:
    """The thread that owns the write connection; runs one function at a time."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, name=f"statemachine-store-writer:{path}", daemon=True
        )
        self._thread.start()

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        box: list[tuple[bool, Any]] = []

        def deliver(ok: bool, value: Any) -> None:
            box.append((ok, value))
            done.set()

        self._queue.put((fn, token, deliver))
        # The connection is busy until the function returns: never leave before that.
        with trio.CancelScope(shield=True):
            await done.wait()
        ok, value = box[0]
        if not ok:
            raise value
        result: T = value
        return result

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._conn.close()
                return
            fn, token, deliver = item
            try:
                ok, value = True, fn(self._conn)
            except BaseException as exc:  # handed to the waiting task, which re-raises it
                ok, value = False, exc
            # the trio run may have ended while we wrote: then nobody waits any more
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(deliver, ok, value)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)


class MemoryConnections:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.path = MEMORY
        self._conn = conn
        self._closed = False

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        await trio.lowlevel.checkpoint()
        return fn(self._conn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        await trio.lowlevel.checkpoint()
        return _call_reporting(fn, self._conn, MEMORY)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the in-memory store is closed")

    def close(self) -> None:
        self._closed = True
        self._conn.close()


def _call_reporting(
    fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection, path: str
) -> T:
    try:
        return fn(conn)
    except sqlite3.Error as exc:
        raise_store_error(exc, path)
