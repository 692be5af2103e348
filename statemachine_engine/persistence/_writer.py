"""The one task that writes: queued records and job requests, committed in batches.

Recorder calls (``transition``, ``error``, ...) put a typed record (``_records``) on a
bounded channel and return at once; a full channel drops the record (counted, logged once)
instead of blocking a machine. Job-queue writes are requests: the caller waits for its own
reply (or, submitted, nobody waits and they ride along like records). The writer takes
everything queued, writes it in ONE transaction (group commit), keeps only the last registry
update per machine of a batch, then answers the requests. Each request runs inside a
savepoint, so one failing request (a duplicate job id) does not undo the others.

A batch with somebody waiting on it is written at once; a batch of records and submitted
writes only waits up to ``record_delay`` for more, or until a request or a backlog arrives,
so that history rides along with the next job write instead of costing a commit.

A batch of history only (no job write, submitted or awaited) is written in the loop's
spare time: in parts of :data:`PART_ITEMS`, each (and the ``COMMIT``) once no other task is
ready to run, so that an event arriving while the last 10 ms of history are written goes
all the way through the runtime (socket, machine, publisher) before the next part; at most
:data:`IDLE_WAIT_SECONDS` a part, and no longer once somebody waits on a write queued
behind it. Written in one go, that history held the loop about 0.35 ms every 10 ms, and
the events that came meanwhile were the slowest hundredth a monitor saw (p99 of send ->
``state_change`` 1.09-1.23 ms; 0.64-0.93 ms in parts; ``bench/RESULTS.md``).
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import trio

# trio's "until no task is ready to run" is public as trio.testing.wait_all_tasks_blocked;
# trio.testing imports pytest (about 90 ms), which a runtime neither needs nor has
from trio._core import wait_all_tasks_blocked  # type: ignore[attr-defined]

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._batch import Request, write_batch
from statemachine_engine.persistence._codec import dumps
from statemachine_engine.persistence._connections import Connections
from statemachine_engine.persistence._records import Record, TransitionRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: most operations written in one transaction (bounds commit latency under load)
MAX_BATCH = 5_000
#: times the writer lets other runnable tasks go first before it commits a batch
MAX_LINGER_YIELDS = 8
#: seconds a batch of records only (nobody waiting on it) may wait for more work
RECORD_DELAY = 0.01
#: items of a batch nobody waits for written at a time, between two waits for the loop
#: to be idle (``Connections.transaction_in_parts``)
PART_ITEMS = 8
#: seconds a part of a batch nobody waits for waits at most for the loop's spare time
IDLE_WAIT_SECONDS = 0.001
#: a batch heavier than this (records, plus each request's weight: jobs added, ...) is
#: written in the write connection's thread, not inline on the trio thread
INLINE_WEIGHT = 256


class Writer:
    """Owns the write connection's queue; :meth:`run` is the writer task."""

    def __init__(
        self,
        connections: Connections,
        *,
        clock: Callable[[], float],
        capacity: int,
        record_delay: float = RECORD_DELAY,
    ) -> None:
        self._connections = connections
        self._record_delay = record_delay
        self._clock = clock
        self._send, self._receive = trio.open_memory_channel[Record | Request[Any]](capacity)
        self._capacity = capacity
        self._room: trio.Event | None = None  # set when a backlog has drained
        self._hurry: trio.Event | None = None  # set to end a batch's wait for more work
        self._spare: trio.CancelScope | None = None  # a part's wait for spare time
        self._requests_queued = 0  # queued requests somebody waits on
        self._running = False
        # writes submitted while the closing writer drains (the channel is closed by then)
        self._late: list[Request[Any]] = []
        self._closed = False
        self._scope: trio.CancelScope | None = None
        #: records and submitted writes queued and not yet committed (reads in this
        #: process flush them first)
        self.unwritten = 0
        #: records dropped because the queue was full or the store closed
        self.dropped = 0
        #: records that failed to write (logged)
        self.failed = 0
        self.batches = 0
        self.written = 0

    # -- producers (trio thread) ---------------------------------------------------------

    def record(self, record: Record) -> None:
        """Queue a history/registry write; never blocks, never raises."""
        try:
            self._send.send_nowait(record)
        except trio.WouldBlock:
            self._drop("the store's write queue is full")
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._drop("the store is closed")
        else:
            self.unwritten += 1
            if self.backlogged:
                self._hurry_up()

    @property
    def backlogged(self) -> bool:
        """Whether producers should wait: the queue is more than half full."""
        return self.unwritten * 2 > self._capacity

    async def wait_for_room(self) -> None:
        """Wait until the queue is back under a quarter full (backpressure for machines
        that record faster than the disk commits, so that no record is dropped)."""
        while self.unwritten * 4 > self._capacity and not self._closed:
            if self._room is None:
                self._room = trio.Event()
            await self._room.wait()

    def _drained(self) -> None:
        if self._room is not None and self.unwritten * 4 <= self._capacity:
            self._room.set()
            self._room = None

    def _drop(self, why: str) -> None:
        self.dropped += 1
        if self.dropped == 1:
            logger.warning("%s: dropping queued writes (counted in store.dropped)", why)

    def submit(
        self,
        fn: Callable[[sqlite3.Connection, float], T],
        *,
        after: Callable[[T], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
        single: bool = False,
    ) -> bool:
        """Queue a write nobody waits for: ``after`` runs once it is committed, ``failed``
        (else a log line) when it cannot be written. While the store closes, it is still
        written with the last batch. False when it was not queued (the queue is full or
        the store closed): then neither callback runs. ``single``: ``fn`` is one statement
        that changes nothing unless it succeeds, so it needs no savepoint of its own (two
        statements fewer: a round trip's worth of work each on PostgreSQL)."""
        req: Request[T] = Request(fn, after, None, detached=True, on_fail=failed, single=single)
        if self._closed and self._running:
            self._late.append(req)
            self.unwritten += 1
            return True
        try:
            self._send.send_nowait(req)
        except trio.WouldBlock:
            self._drop("the store's write queue is full")
            return False
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._drop("the store is closed")
            return False
        self.unwritten += 1
        if self.backlogged:
            self._hurry_up()
        return True

    async def request(
        self,
        fn: Callable[[sqlite3.Connection, float], T],
        *,
        after: Callable[[T], None] | None = None,
        on_abandon: Callable[[T], None] | None = None,
        weight: int = 1,
    ) -> T:
        """Run ``fn`` in the writer and return its result (or raise its error).

        ``after(result)`` runs on the trio thread once committed, even if the caller was
        cancelled while it was being written; ``on_abandon(result)`` then runs too (to undo
        a claim nobody received). A request whose caller was cancelled before the writer
        took it is not written at all. ``weight``: how much it writes (jobs added), so that
        a heavy batch goes to the write connection's thread instead of the trio thread.
        """
        if self._closed:
            raise StoreError(f"the store for {self._connections.path} is closed")
        req: Request[T] = Request(fn, after, on_abandon, weight=weight)
        self._requests_queued += 1  # before the send: the writer may take it at once
        self._hurry_up()
        try:
            await self._send.send(req)
        except BaseException as exc:  # not queued: closed, or cancelled before it was
            self._requests_queued -= 1
            if isinstance(exc, trio.ClosedResourceError | trio.BrokenResourceError):
                raise StoreError(f"the store for {self._connections.path} is closed") from None
            raise
        try:
            await req.done.wait()
        except BaseException:
            req.abandoned = True
            if req.done.is_set():
                _abandon(req)
            raise
        if req.error is not None:
            raise req.error
        return req.value  # type: ignore[return-value]

    # -- the writer task -----------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Write until :meth:`close`, then drain what is queued.

        Shielded: a cancelled runtime still gets its last records (machines removed from
        the registry) written; :meth:`close` bounds that with a deadline. Shielded only
        once started: a ``nursery.start`` cancelled before then keeps the task in its own
        nursery and waits for it to end, and nobody would close a shielded writer there.
        """
        task_status.started()
        await trio.lowlevel.checkpoint_if_cancelled()  # yields only when cancelled
        self._running = True
        try:
            with trio.CancelScope(shield=True) as self._scope:
                async for first in self._receive:
                    batch = await self._gather(first)
                    await self._commit(batch)
                while self._late:  # submitted while closing (a claim given back)
                    late, self._late = self._late, []
                    await self._commit(late)
        finally:
            self._running = False
        # the close deadline passed while draining: answer whoever still waits
        left: list[Record | Request[Any]] = [*_drain(self._receive), *self._late]
        self._give_up(left)
        self._late = []

    def _give_up(self, items: Sequence[Record | Request[Any]]) -> None:
        for item in items:
            if isinstance(item, Request):
                item.error = StoreError("the store closed before this write ran")
                item.done.set()
                _failed(item)
            if _unattended(item):
                self.unwritten -= 1
                self.dropped += 1

    async def _gather(self, first: Record | Request[Any]) -> list[Record | Request[Any]]:
        """The batch that starts with ``first``: what is queued now, plus what arrives
        while other tasks run first; a batch nobody waits on also waits up to
        ``record_delay`` for more (ended early by a request or a backlog)."""
        # Group commit: while other tasks are runnable they may be about to queue writes
        # (a machine completing a job, then claiming the next); let them go first.
        for _ in range(MAX_LINGER_YIELDS):
            if trio.lowlevel.current_statistics().tasks_runnable == 0:
                break
            await trio.lowlevel.cancel_shielded_checkpoint()
        batch = [first]
        if (
            _unattended(first)
            and self._record_delay > 0
            and not self._requests_queued
            and not self.backlogged
            and not self._closed
        ):
            try:
                await self._wait_for_hurry(trio.current_time() + self._record_delay)
            except trio.Cancelled:
                self._give_up(batch)  # the close deadline passed
                raise
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                break
        self._requests_queued -= sum(1 for item in batch if not _unattended(item))
        return batch

    async def _spare_time(self) -> None:
        """Wait until no other task is ready to run and no socket or timer has news (an
        event that arrived meanwhile has gone all the way: socket, machine, publisher),
        for at most :data:`IDLE_WAIT_SECONDS` (a runtime that never idles still gets its
        history written); not at all, or no longer, once somebody waits on a write queued
        behind, the queue fills up or the store closes (:meth:`_hurry_up`)."""
        if self._requests_queued or self.backlogged or self._closed:
            return
        try:
            with trio.move_on_after(IDLE_WAIT_SECONDS) as self._spare:
                await wait_all_tasks_blocked()
        finally:
            self._spare = None

    def _hurry_up(self) -> None:
        """End the wait for more work (``record_delay``) or for spare time."""
        if self._hurry is not None:
            self._hurry.set()
        if self._spare is not None:
            self._spare.cancel()

    async def _wait_for_hurry(self, deadline: float) -> None:
        self._hurry = trio.Event()
        try:
            with trio.move_on_at(deadline):
                await self._hurry.wait()
        finally:
            self._hurry = None

    def close(self, *, timeout: float) -> None:
        """Stop accepting work; the writer drains the queue for at most ``timeout`` s."""
        self._closed = True
        self._send.close()
        self._hurry_up()
        if self._scope is not None:
            self._scope.deadline = min(self._scope.deadline, trio.current_time() + timeout)

    def abandon(self) -> None:
        """Stop as the process's death would stop it: what is queued and not committed is
        lost, and nothing more is written (tests of what survives kill -9)."""
        self._closed = True
        self._send.close()
        left = _drain(self._receive)
        self._give_up(left)
        if self._scope is not None:
            self._scope.cancel()

    async def _commit(self, batch: Sequence[Record | Request[Any]]) -> None:
        if any(_given_up(item) for item in batch):
            # its caller was cancelled before it ran: a claim nobody receives is not made
            for item in batch:
                if _given_up(item):
                    item.done.set()  # type: ignore[union-attr]
            batch = [item for item in batch if not _given_up(item)]
            if not batch:
                return
        now = self._clock()
        records = sum(1 for item in batch if _unattended(item))
        # Serialise on the trio thread (contexts are live dicts): only the last registry
        # update of each machine in this batch is written.
        last: dict[str, int] = {}
        for index, item in enumerate(batch):
            if type(item) is TransitionRecord:
                last[item.machine] = index
        snapshots: dict[int, str | None] = {}
        for index in last.values():
            context = batch[index].context  # type: ignore[union-attr]
            snapshots[index] = dumps(context) if context is not None else None
        requests = [item for item in batch if type(item) is Request]
        weight = len(batch) - len(requests) + sum(req.weight for req in requests)
        path = self._connections.path
        try:
            if not requests and PART_ITEMS < len(batch) <= INLINE_WEIGHT:
                # history only: written in parts, in the loop's spare time
                parts = _parts(batch, snapshots, now, path)
                outcome = sum(
                    await self._connections.transaction_in_parts(parts, between=self._spare_time)
                )
            else:
                outcome = await self._connections.transaction(
                    lambda conn: write_batch(conn, batch, snapshots, now, path),
                    inline=weight <= INLINE_WEIGHT,
                )
        except trio.Cancelled:
            # the close deadline passed while the batch waited (a PostgreSQL server that
            # stays away): whoever waits on its requests is told, then the writer ends
            self._give_up(batch)
            raise
        except StoreError as exc:
            logger.error("writing %d queued operations failed: %s", len(batch), exc)
            self.unwritten -= records
            self._drained()
            self.failed += records
            for item in batch:
                if isinstance(item, Request):
                    item.error = exc
                    item.done.set()
                    _failed(item)
            return
        self.unwritten -= records
        self._drained()
        self.batches += 1
        self.written += len(batch) - outcome
        self.failed += outcome
        for item in batch:
            if isinstance(item, Request):
                _deliver(item)


def _parts(
    batch: Sequence[Record | Request[Any]], snapshots: dict[int, str | None], now: float, path: str
) -> list[Callable[[sqlite3.Connection], int]]:
    """``batch`` in parts of :data:`PART_ITEMS`, each written as a batch of its own (with
    the registry snapshots of its own items)."""
    parts: list[Callable[[sqlite3.Connection], int]] = []
    for start in range(0, len(batch), PART_ITEMS):
        stop = start + PART_ITEMS
        mine = {index - start: text for index, text in snapshots.items() if start <= index < stop}
        parts.append(
            functools.partial(
                write_batch, batch=batch[start:stop], snapshots=mine, now=now, path=path
            )
        )
    return parts


def _unattended(item: Record | Request[Any]) -> bool:
    """A record or a submitted write: counted in ``unwritten``, nobody waits on it."""
    return type(item) is not Request or item.detached


def _given_up(item: Record | Request[Any]) -> bool:
    """A request whose caller stopped waiting before it was written."""
    return type(item) is Request and item.abandoned and not item.detached


def _failed(req: Request[Any]) -> None:
    """Tell a submitted write's owner that it was not written."""
    if req.detached and req.on_fail is not None and req.error is not None:
        try:
            req.on_fail(req.error)
        except Exception:
            logger.exception("store callback failed after a failed write")


def _deliver(req: Request[Any]) -> None:
    if req.error is not None and req.detached:
        _failed(req)
    if req.error is not None and req.abandoned and req.on_fail is None:
        logger.warning("a store write nobody waited for failed: %s", req.error)
    if req.error is None and req.after is not None:
        try:
            req.after(req.value)
        except Exception as exc:
            # a bug in a callback must not end the writer: report it to the caller
            logger.exception("store callback failed after a committed write")
            req.error = exc
    req.done.set()
    if req.abandoned:
        _abandon(req)


def _abandon(req: Request[Any]) -> None:
    if req.error is None and req.on_abandon is not None and req.value is not None:
        req.on_abandon(req.value)


def _drain(receive: trio.MemoryReceiveChannel[Record | Request[Any]]) -> list[Any]:
    items = []
    while True:
        try:
            items.append(receive.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return items
