"""Where SQLite calls run, and how a write transaction is opened and committed.

Writes. A file database has one write connection. A write transaction runs inline on the
trio thread when it cannot wait and is small (the writer sends heavy batches, such as a
bulk add of jobs, to the thread): the connection takes SQLite's write lock with a zero busy
timeout, never checkpoints on the loop (see below), and commits with
``synchronous=NORMAL``, which in WAL mode writes the log without waiting for the disk. So
an inline transaction is CPU work of tens of microseconds, cheaper than handing it to a
thread and back (~100-200 us a round trip, twice per job for a worker that claims and
completes). When another process holds the lock, the same transaction goes to the write
connection's own thread, which waits for the lock up to the busy timeout: a lock wait never
blocks the loop.

A write nobody waits for (the history of the last 10 ms) can come in parts
(:meth:`FileConnections.transaction_in_parts`): inline, the writer awaits its own
``between()`` before each part and the ``COMMIT`` (it waits there for the loop's spare
time). The write lock stays held between parts, nothing is committed before the last, and
the writer task is the only user of the write connection, so no other write slips into
the transaction; cancelled between parts (the close deadline, a simulated kill -9), it is
rolled back.

The write connection never checkpoints on its own (copying the log back into the database
and syncing it takes milliseconds). When the log has grown past :data:`CHECKPOINT_BYTES`,
the next write transaction goes to the thread, which checkpoints right after its commit:
the writer task waits for it (queued records wait with it), the loop does not. No write of
this process can slip in meanwhile, so the checkpoint catches up and the log starts over.

Reads use a small pool of read connections from worker threads, so reads never wait for a
commit (WAL) and never block the loop.

The write connection holds the file it opened, even after the path stops naming it. A
database deleted (or replaced) under a running runtime would take its writes into an
unlinked file while other processes write to a new one: every few seconds a write
transaction first checks that the path still names the file opened
(:meth:`FileConnections.check_file`), and from then on every transaction and read fails
with :class:`DatabaseFileGone`, which the store's maintenance does not retry: the runtime
stops, naming the file.

The in-memory database is one connection used inline on the trio thread for everything.
It never touches a disk; running it inline keeps simulations deterministic (a thread
hand-off would let an autojump clock leap ahead while SQLite works).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._paths import MEMORY
from statemachine_engine.persistence._schema import connect, raise_store_error

logger = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C")

#: read connections opened at most (and threads reading at once)
MAX_READERS = 4
#: size of the write-ahead log that calls for a checkpoint (SQLite's default: 1000 pages)
CHECKPOINT_BYTES = 4 * 1024 * 1024
#: inline commits between two looks at the log's size
CHECKPOINT_CHECK_EVERY = 100
#: seconds between two checks that the path still names the database file opened
FILE_CHECK_SECONDS = 2.0
#: SQLite's primary result codes for "another connection holds the lock"
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED


class DatabaseFileGone(StoreError):
    """The database file was deleted or replaced while this process had it open."""


class Connections(Protocol):
    path: str

    async def transaction(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = True) -> T:
        """Run ``fn`` on the write connection inside one write transaction
        (``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back when ``fn`` raises). The writer
        task is the only caller. ``inline=False``: a heavy transaction, never on the trio
        thread of a file store. Raises StoreError for SQLite's own failures."""
        ...

    async def transaction_in_parts(
        self,
        parts: Sequence[Callable[[sqlite3.Connection], T]],
        *,
        between: Callable[[], Awaitable[None]],
    ) -> list[T]:
        """Run ``parts`` in order inside one write transaction and return their results.
        On the trio thread, ``between()`` is awaited before each part and the ``COMMIT``
        (the writer waits there for the loop's spare time); elsewhere (the write thread,
        PostgreSQL's, the in-memory database), the parts run as one function."""
        ...

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    def check_file(self) -> None:
        """Raise DatabaseFileGone when the path no longer names the file opened."""
        ...

    def close(self) -> None: ...


async def open_connections(
    path: str, *, busy_timeout: float, inline_writes: bool = True, synchronous: str = "normal"
) -> Connections:
    """Open ``path`` (schema created or migrated) and return its connections.

    ``inline_writes=False`` sends every write transaction to the write connection's thread.
    ``synchronous="full"`` makes every commit wait for the disk (power-loss safe).
    """
    if path == MEMORY:
        return MemoryConnections(connect(MEMORY))
    writer = await trio.to_thread.run_sync(
        lambda: _open_writer(path, busy_timeout, inline_writes, synchronous)
    )
    try:
        st = os.stat(path)
    except OSError as exc:
        writer.close()
        raise StoreError(f"cannot open the database {path}: {exc.strerror or exc}") from None
    return FileConnections(
        path,
        writer,
        busy_timeout=busy_timeout,
        inline_writes=inline_writes,
        identity=(st.st_dev, st.st_ino),
    )


def _open_writer(
    path: str, busy_timeout: float, inline_writes: bool, synchronous: str
) -> sqlite3.Connection:
    # the schema is created or migrated waiting for other processes, as any lock wait
    conn = connect(path, busy_timeout=busy_timeout, check_same_thread=False)
    conn.execute("PRAGMA wal_autocheckpoint = 0")  # done in the thread, see above
    # a log that a checkpoint let start over is cut back to this size, so that its size on
    # disk tells when the next checkpoint is due
    conn.execute(f"PRAGMA journal_size_limit = {CHECKPOINT_BYTES // 4}")
    if synchronous == "full":
        conn.execute("PRAGMA synchronous = FULL")
    if inline_writes:
        conn.execute("PRAGMA busy_timeout = 0")  # the inline path must never wait
    return conn


def _in_transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """``fn`` between BEGIN IMMEDIATE (already executed) and COMMIT."""
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


async def _in_transaction_in_parts(
    conn: sqlite3.Connection,
    parts: Sequence[Callable[[sqlite3.Connection], T]],
    between: Callable[[], Awaitable[None]],
) -> list[T]:
    """``parts`` between BEGIN IMMEDIATE (already executed) and COMMIT, awaiting
    ``between()`` after each. Cancelled there, the transaction is rolled back."""
    results: list[T] = []
    try:
        for part in parts:
            if results:
                await between()
            results.append(part(conn))
        await between()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return results


def as_one(parts: Sequence[Callable[[C], T]]) -> Callable[[C], list[T]]:
    """``parts`` as one function of the connection: their results, in order."""
    return lambda conn: [part(conn) for part in parts]


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY_CODES


class FileConnections:
    def __init__(
        self,
        path: str,
        writer: sqlite3.Connection,
        *,
        busy_timeout: float,
        inline_writes: bool = True,
        identity: tuple[int, int] | None = None,
    ) -> None:
        self.path = path
        self._conn = writer
        # (st_dev, st_ino) of the file opened; None: not watched
        self._identity = identity
        self._next_file_check = trio.current_time() + FILE_CHECK_SECONDS
        self._gone: str | None = None  # why the file is no longer ours, once it is not
        self._writer = _WriterThread(writer, path)
        self._wal = path + "-wal"
        self._inline = inline_writes
        self._busy_timeout = busy_timeout
        self._read_limiter = trio.CapacityLimiter(MAX_READERS)
        self._idle: list[sqlite3.Connection] = []
        self._closed = False
        self._commits = 0
        self._checkpoint_due = False
        #: write transactions that found the lock taken and waited in the thread
        self.lock_waits = 0
        #: checkpoints run
        self.checkpoints = 0

    async def transaction(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = True) -> T:
        self._before_write()
        try:
            if inline and self._began_inline():
                result = _in_transaction(self._conn, fn)
            else:
                result = await self._writer.run(self._in_thread(fn))
            self._committed()
            return result
        except sqlite3.Error as exc:
            raise_store_error(exc, self.path)

    async def transaction_in_parts(
        self,
        parts: Sequence[Callable[[sqlite3.Connection], T]],
        *,
        between: Callable[[], Awaitable[None]],
    ) -> list[T]:
        self._before_write()
        if self._inline and not self._checkpoint_due:
            await between()  # before taking the lock
        try:
            if self._began_inline():
                results = await _in_transaction_in_parts(self._conn, parts, between)
            else:
                results = await self._writer.run(self._in_thread(as_one(parts)))
            self._committed()
            return results
        except sqlite3.Error as exc:
            raise_store_error(exc, self.path)

    def _before_write(self) -> None:
        self._check_open()
        if trio.current_time() >= self._next_file_check:
            self._next_file_check = trio.current_time() + FILE_CHECK_SECONDS
            self.check_file()

    def _began_inline(self) -> bool:
        """Whether a write transaction began on the trio thread (``BEGIN IMMEDIATE``): not
        when writes go to the thread, a checkpoint is due or another process holds the
        lock (the thread then waits for it)."""
        if not self._inline or self._checkpoint_due:
            return False
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            self.lock_waits += 1
            return False
        return True

    def _in_thread(
        self, fn: Callable[[sqlite3.Connection], T]
    ) -> Callable[[sqlite3.Connection], T]:
        """``fn`` in a transaction for the write connection's thread: it waits up to the
        busy timeout for the lock (the connection's own timeout stays zero, for the
        inline path), and checkpoints after the commit when one is due."""
        busy_ms = max(0, round(self._busy_timeout * 1000)) if self._inline else None
        checkpoint = self._checkpoint_due
        self._checkpoint_due = False

        def run(conn: sqlite3.Connection) -> T:
            if busy_ms is None:
                conn.execute("BEGIN IMMEDIATE")
            else:
                conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                finally:
                    conn.execute("PRAGMA busy_timeout = 0")
            result = _in_transaction(conn, fn)
            if checkpoint:
                self._checkpoint(conn)
            return result

        return run

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # committed all the same; the next check tries again
            logger.warning("checkpoint of %s failed: %s", self.path, exc)
        else:
            self.checkpoints += 1

    def _committed(self) -> None:
        self._commits += 1
        if self._commits % CHECKPOINT_CHECK_EVERY == 0:
            try:
                size = os.stat(self._wal).st_size
            except OSError:
                return
            self._checkpoint_due = size >= CHECKPOINT_BYTES

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

    def check_file(self) -> None:
        if self._gone is None and self._identity is not None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                what = "was deleted"
            except OSError:
                return  # cannot look (a folder made unreadable): no news is no proof
            else:
                if (st.st_dev, st.st_ino) == self._identity:
                    return
                what = "was replaced by another file"
            # (logged by the writer whose write it fails)
            self._gone = (
                f"the database {self.path} {what} while this process was writing to it;"
                " stopping: its writes would be lost, and jobs others add would not reach it"
                " (restore the file, or start again to use the new one)"
            )
        if self._gone is not None:
            raise DatabaseFileGone(self._gone)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.path} is closed")
        if self._gone is not None:
            raise DatabaseFileGone(self._gone)

    def close(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        self._writer.close()


class _WriterThread:
    """The thread that runs write transactions that must wait for the lock."""

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

    async def transaction(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = True) -> T:
        self._check_open()
        await trio.lowlevel.checkpoint()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            return _in_transaction(self._conn, fn)
        except sqlite3.Error as exc:
            raise_store_error(exc, MEMORY)

    async def transaction_in_parts(
        self,
        parts: Sequence[Callable[[sqlite3.Connection], T]],
        *,
        between: Callable[[], Awaitable[None]],
    ) -> list[T]:
        # one function: a simulation's history is written at once, deterministically
        return await self.transaction(as_one(parts))

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        self._check_open()
        await trio.lowlevel.checkpoint()
        return _call_reporting(fn, self._conn, MEMORY)

    def check_file(self) -> None:
        pass  # no file to lose

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
