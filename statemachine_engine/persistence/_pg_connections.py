"""PgConnections: the store's connections to PostgreSQL, used from the store's own threads.

The same interface as the SQLite connections (``_connections.Connections``), so the whole
store -- writer, job queue, holdings, reads, durable log -- runs on it unchanged:

* one write connection in one thread runs the writer's transactions: a batch of records
  and job requests (group commit) is ONE transaction, ``fn`` on a
  :class:`~statemachine_engine.persistence._pg_adapter.PgConnection`, then COMMIT;
* a small pool of read connections (autocommit) used from worker threads;
* psycopg's synchronous API only: trio waits for a thread, never for asyncio.

A lost connection (or a deadlock, a serialization failure) is retried: the writer thread
reconnects with a backoff (50 ms doubling to 5 s) for as long as it takes, while the
machines go on and their writes queue up in the bounded write queue (recorders pause when
it is half full); :attr:`PgConnections.status` says since when it waits, for ``/health``.
A transaction lost before its COMMIT is run again whole (nothing of it was committed). One
lost DURING its COMMIT may or may not be committed: each transaction reads its id first
(``pg_current_xact_id``), and after reconnecting the thread asks the server
(``pg_xact_status``): committed -- the results of the first run stand; aborted -- it runs
again. So a batch is never written twice nor lost.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._connections import as_one
from statemachine_engine.persistence._dialect import TransactionLost
from statemachine_engine.persistence._pg_adapter import PgConnection, one_line
from statemachine_engine.persistence._pg_connect import CannotConnect, connect, driver

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: read connections opened at most (and threads reading at once)
MAX_READERS = 4
#: the first wait before a reconnect, and the longest
RETRY_FIRST = 0.05
RETRY_MAX = 5.0
#: seconds between two log lines while the writer waits for the server
WAIT_LOG_EVERY = 30.0


@attrs.define
class ConnectionStatus:
    """How the write connection fares, for ``/health`` and the log."""

    #: whether the last write transaction got through
    connected: bool = True
    #: wall-clock time since when writes wait for the server (None: they do not)
    waiting_since: float | None = None
    #: transactions run again after a lost connection (or a deadlock)
    retries: int = 0
    #: the last connection error, in the server's or driver's words
    last_error: str | None = None


class _Job:
    __slots__ = ("deliver", "fn", "give_up", "token")

    def __init__(self, fn: Callable[[PgConnection], Any], token: Any, deliver: Any) -> None:
        self.fn = fn
        self.token = token
        self.deliver = deliver
        #: set when the caller stopped waiting: the thread stops retrying
        self.give_up = False


class PgConnections:
    """The write thread and the read pool of one PostgreSQL database."""

    #: asked by the SQL that differs between the backends (see ``_dialect``)
    postgres = True

    def __init__(self, url: str, shown: str, writer: psycopg.Connection[Any]) -> None:
        self._url = url
        #: the database as shown in messages (no password)
        self.path = shown
        self.status = ConnectionStatus()
        self._conn: psycopg.Connection[Any] | None = writer
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._wake = threading.Event()  # ends a retry's sleep early (closing)
        self._read_limiter = trio.CapacityLimiter(MAX_READERS)
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False
        self._next_log = 0.0  # when a writer still waiting for the server logs again
        self._thread = threading.Thread(
            target=self._serve, name=f"statemachine-store-writer:{shown}", daemon=True
        )
        self._thread.start()

    # -- writes --------------------------------------------------------------------------

    async def transaction(self, fn: Callable[[Any], T], *, inline: bool = True) -> T:
        """Run ``fn`` in one transaction in the write thread (``inline`` is SQLite's; here
        every transaction is the thread's). Lost connections are retried until it commits;
        cancelled meanwhile, the thread stops retrying and the cancellation goes on."""
        self._check_open()
        done = trio.Event()
        box: list[tuple[bool, Any]] = []

        def deliver(ok: bool, value: Any) -> None:
            box.append((ok, value))
            done.set()

        job = _Job(fn, trio.lowlevel.current_trio_token(), deliver)
        self._queue.put(job)
        try:
            await done.wait()
        except trio.Cancelled:
            job.give_up = True
            self._wake.set()
            # the connection is busy until the thread is done with it
            with trio.CancelScope(shield=True):
                await done.wait()
            raise
        ok, value = box[0]
        if not ok:
            raise value
        result: T = value
        return result

    async def transaction_in_parts(
        self, parts: Sequence[Callable[[Any], T]], *, between: Callable[[], Awaitable[None]]
    ) -> list[T]:
        """The parts as one function in one transaction (the write thread holds no loop)."""
        return await self.transaction(as_one(parts))

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.close()
                return
            try:
                ok, value = True, self._transact(job)
            except BaseException as exc:  # handed to the waiting task, which re-raises it
                ok, value = False, exc
            with contextlib.suppress(trio.RunFinishedError):
                job.token.run_sync_soon(job.deliver, ok, value)

    def _transact(self, job: _Job) -> Any:
        psycopg = driver()
        delay = RETRY_FIRST
        # (transaction id, result) of a run whose COMMIT was lost: committed or not?
        unknown: tuple[str, Any] | None = None
        while True:
            committing = False
            xid = ""
            result: Any = None
            try:
                conn = self._connection()
                if unknown is not None:
                    if self._committed(conn, unknown[0]):
                        self._back()
                        return unknown[1]
                    unknown = None
                with conn.pipeline() as pipeline:
                    # its id, for asking the server about it should its COMMIT be lost
                    ask = conn.execute("SELECT pg_current_xact_id()::text AS xid")
                    result = job.fn(PgConnection(conn, pipeline))
                    pipeline.sync()
                    xid = _id(ask)
                if conn.info.transaction_status == _in_error():
                    conn.rollback()
                    raise StoreError(
                        f"{self.path}: a write of this batch failed (logged above);"
                        " the batch was rolled back"
                    )
                committing = True
                conn.commit()
            except (TransactionLost, psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if committing:
                    unknown = (xid, result)
                self._lost(exc)
                if job.give_up or self._closed:
                    raise StoreError(
                        f"{self.path}: gave up a write: the store closed while the server"
                        f" was unreachable ({self.status.last_error})"
                    ) from None
                self._wake.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            except CannotConnect as exc:  # the server is down, or not taking connections
                self._lost(exc)
                if job.give_up or self._closed:
                    raise
                self._wake.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            except psycopg.Error as exc:  # a statement failed, its error raised at a sync
                self._rollback()
                raise StoreError(f"{self.path}: {one_line(exc)}") from None
            except BaseException:
                self._rollback()
                raise
            self._back()
            return result

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        self._conn = connect(self._url)
        return self._conn

    def _committed(self, conn: psycopg.Connection[Any], xid: str) -> bool:
        """Whether the transaction ``xid`` (whose COMMIT was lost) committed; waits while
        the server still finishes it."""
        while True:
            row = conn.execute("SELECT pg_xact_status(%s::xid8) AS status", (xid,)).fetchone()
            conn.rollback()  # end the read's transaction
            status = row["status"] if row else None
            if status != "in progress":
                logger.warning(
                    "%s: a batch whose commit was interrupted is %s on the server%s",
                    self.path,
                    status or "unknown",
                    "" if status == "committed" else "; it is written again",
                )
                return bool(status == "committed")
            time.sleep(0.01)

    def _rollback(self) -> None:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            with contextlib.suppress(Exception):
                conn.rollback()

    def _lost(self, exc: BaseException) -> None:
        self._rollback()
        status = self.status
        status.retries += 1
        status.last_error = one_line(exc)
        now = time.time()
        if status.waiting_since is None:
            status.connected = False
            status.waiting_since = now
            self._next_log = now + WAIT_LOG_EVERY
            logger.warning(
                "%s: write failed (%s); writes wait and are retried until the server answers",
                self.path,
                status.last_error,
            )
        elif now >= self._next_log:
            self._next_log = now + WAIT_LOG_EVERY
            logger.warning(
                "%s: writes still waiting for the server after %.0f s (%s)",
                self.path,
                now - status.waiting_since,
                status.last_error,
            )

    def _back(self) -> None:
        status = self.status
        if status.waiting_since is not None:
            logger.warning(
                "%s: writes go through again after %.1f s",
                self.path,
                time.time() - status.waiting_since,
            )
            status.waiting_since = None
            status.connected = True

    # -- reads ---------------------------------------------------------------------------

    async def read(self, fn: Callable[[Any], T]) -> T:
        """``fn`` on a read connection (autocommit) in a worker thread; a connection lost
        is replaced once before the read fails with StoreError."""
        self._check_open()
        async with self._read_limiter:
            for attempt in (1, 2):
                conn = self._idle.pop() if self._idle else None
                try:
                    if conn is None:
                        conn = await trio.to_thread.run_sync(self._open_reader)
                    result = await trio.to_thread.run_sync(self._call, fn, conn)
                except TransactionLost as exc:
                    _close(conn)
                    if attempt == 2:
                        raise StoreError(f"{self.path}: {exc}") from None
                    continue
                except BaseException:
                    _close(conn)
                    raise
                if self._closed:
                    _close(conn)
                else:
                    self._idle.append(conn)
                return result
        raise AssertionError("unreachable")

    def _open_reader(self) -> psycopg.Connection[Any]:
        return connect(self._url, autocommit=True)

    def _call(self, fn: Callable[[Any], T], conn: psycopg.Connection[Any]) -> T:
        import sqlite3

        try:
            return fn(PgConnection(conn))
        except sqlite3.Error as exc:  # the adapter's words for a statement that failed
            raise StoreError(f"{self.path}: {exc}") from None

    # -- life ----------------------------------------------------------------------------

    def check_file(self) -> None:
        pass  # a server, not a file that could be deleted under us

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store for {self.path} is closed")

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        for conn in self._idle:
            _close(conn)
        self._idle.clear()
        self._queue.put(None)
        self._thread.join(timeout=30)


def _close(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


def _id(cursor: psycopg.Cursor[Any]) -> str:
    row: dict[str, Any] | None = cursor.fetchone()
    assert row is not None
    return str(row["xid"])


def _in_error() -> Any:
    from psycopg.pq import TransactionStatus

    return TransactionStatus.INERROR
