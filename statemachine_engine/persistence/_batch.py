"""What the writer writes in one transaction, and how: records and requests.

A batch is written inside the transaction the connections opened. Records are written one
by one (transitions together, with one ``executemany``); a record that fails is logged and
counted, the others go on. Each request runs in a savepoint, so a failing request (a
duplicate job id) does not undo the others; its error goes back to its caller.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import trio

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import _durable_sql as durable
from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._dialect import TransactionLost, is_postgres, notify_history
from statemachine_engine.persistence._records import (
    CheckpointRecord,
    DeliveredRecord,
    DurableEndRecord,
    DurableStartRecord,
    ErrorRecord,
    EventRecord,
    InboxMarkRecord,
    OutboxRecord,
    Record,
    StartRecord,
    StopRecord,
    TransitionRecord,
)
from statemachine_engine.persistence._schema import raise_store_error

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Request(Generic[T]):
    """A write whose caller waits for the result: ``fn(conn, now)`` in a savepoint."""

    __slots__ = (
        "abandoned",
        "after",
        "detached",
        "done",
        "error",
        "fn",
        "on_abandon",
        "on_fail",
        "single",
        "value",
        "weight",
    )

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection, float], T],
        after: Callable[[T], None] | None,
        on_abandon: Callable[[T], None] | None,
        *,
        detached: bool = False,
        on_fail: Callable[[BaseException], None] | None = None,
        weight: int = 1,
        single: bool = False,
    ) -> None:
        self.fn = fn
        #: one statement that changes nothing when it does not apply: no savepoint needed
        self.single = single
        self.after = after
        self.on_abandon = on_abandon
        #: for a submitted write: called when it could not be written
        self.on_fail = on_fail
        #: how much it writes, for choosing between inline and the thread
        self.weight = weight
        self.done = trio.Event()
        self.value: T | None = None
        self.error: BaseException | None = None
        #: submitted: nobody waits for it (it neither hurries a batch nor is answered)
        self.detached = detached
        self.abandoned = detached


def write_batch(
    conn: sqlite3.Connection,
    batch: Sequence[Record | Request[Any]],
    snapshots: dict[int, str | None],
    now: float,
    path: str,
) -> int:
    """Write one batch inside the transaction the connections opened; returns how many
    records failed on their own. A failure of the transaction itself raises."""
    failed = 0
    transitions: list[tuple[str, str | None, str, str | None, float]] = []
    steps = _Steps()
    for index, item in enumerate(batch):
        if type(item) is CheckpointRecord:
            steps.add(item)
            continue
        if steps and (isinstance(item, Request) or type(item) in _DURABLE):
            failed += steps.write(conn)  # in order with what reads or replaces them
        if isinstance(item, Request):
            _run_request(conn, item, now, path)
            continue
        try:
            _write_record(conn, item, index, snapshots, transitions)
        except _UNWRITABLE as exc:
            failed += 1
            whose = item[1] if type(item) is EventRecord else item[0]  # (its target)
            logger.error("could not record %s for %r: %s", _KINDS[type(item)], whose, exc)
    if steps:
        failed += steps.write(conn)
    if transitions:
        failed += _insert_transitions(conn, transitions)
    if is_postgres(conn) and any(type(item) in _HISTORY for item in batch):
        notify_history(conn)  # once per batch: monitors of other hosts read what is new
    return failed


#: what one record's own failure raises: the database refused it, or it holds a value no
#: column can carry -- a str that is not text (a surrogate, from bytes that were not UTF-8),
#: an int past 64 bits -- which the driver refuses before the statement runs
_UNWRITABLE = (sqlite3.Error, ValueError, OverflowError)


def _insert_transitions(
    conn: sqlite3.Connection, rows: list[tuple[str, str | None, str, str | None, float]]
) -> int:
    """The batch's transition rows; returns how many failed (logged): a row no column can
    carry fails on its own."""
    refused = records.insert_transitions(conn, rows)
    for row, exc in refused:
        logger.error("could not record a transition for %r: %s", row[0], exc)
    return len(refused)


#: the records a monitor of another host shows (``_remote_sql.history_since``)
_HISTORY = frozenset({StartRecord, TransitionRecord, StopRecord, ErrorRecord})

#: how a failed record is named in the log
_KINDS: dict[type[Any], str] = {
    StartRecord: "start",
    TransitionRecord: "trans",
    StopRecord: "stop",
    ErrorRecord: "error",
    EventRecord: "event",
    DurableStartRecord: "checkpoint",
    CheckpointRecord: "checkpoint",
    DurableEndRecord: "checkpoint",
    InboxMarkRecord: "inbox",
    OutboxRecord: "outbox",
    DeliveredRecord: "outbox",
}


def _write_record(
    conn: sqlite3.Connection,
    item: Record,
    index: int,
    snapshots: dict[int, str | None],
    transitions: list[tuple[str, str | None, str, str | None, float]],
) -> None:
    # the hot path first, unpacked as the tuple it is (a class pattern costs more)
    if type(item) is TransitionRecord:
        machine, from_state, to_state, event, timestamp, _context = item
        if index in snapshots:
            records.update_machine(
                conn, machine, current_state=to_state, timestamp=timestamp, context=snapshots[index]
            )
        # (after the registry: a record that fails there fails once, its row unwritten)
        transitions.append((machine, from_state, to_state, event, timestamp))
        return
    match item:
        case StartRecord(machine, state, config_type, pid, endpoint, timestamp, host):
            records.upsert_machine(
                conn,
                machine,
                current_state=state,
                config_type=config_type,
                pid=pid,
                endpoint=endpoint,
                timestamp=timestamp,
                host=host,
            )
        case StopRecord(machine):
            records.delete_machine(conn, machine)
        case ErrorRecord(machine, state, action, message, traceback, job_id, timestamp):
            records.insert_error(
                conn,
                machine,
                state=state,
                action=action,
                message=message,
                traceback=traceback,
                job_id=job_id,
                timestamp=timestamp,
            )
        case EventRecord(source, target, event_type, job_id, payload, status, timestamp):
            records.insert_event(
                conn,
                source_machine=source,
                target_machine=target,
                event_type=event_type,
                job_id=job_id,
                payload=payload,
                status=status,
                now=timestamp,
            )
        case _:
            _write_durable(conn, item)


#: the durable records a run of checkpoints is written before (they insert, end or read
#: the rows the checkpoints update)
_DURABLE = frozenset(
    {DurableStartRecord, DurableEndRecord, InboxMarkRecord, OutboxRecord, DeliveredRecord}
)


class _Steps:
    """A run of durable steps, written with two statements: each machine's last checkpoint
    (it replaces every column the earlier ones set) and the inbox messages they used."""

    __slots__ = ("_handled", "_last")

    def __init__(self) -> None:
        self._last: dict[str, CheckpointRecord] = {}
        self._handled: list[tuple[str, float, int | None, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self._last)

    def add(self, item: CheckpointRecord) -> None:
        self._last[item.machine] = item
        if item.message_id is not None:
            self._handled.append(
                ("handled", item.timestamp, item.step, item.machine, item.message_id)
            )

    def write(self, conn: sqlite3.Connection) -> int:
        """Write the run and start a new one; returns how many steps failed (logged)."""
        # the record's fields from ``state`` to ``timestamp`` are the UPDATE's, in its order
        rows = [(*item[1:12], item.machine) for item in self._last.values()]
        handled, count = self._handled, len(self._last)
        self._last, self._handled = {}, []
        try:
            durable.write_checkpoints(conn, rows)
            if handled:
                durable.mark_inbox(conn, handled)
        except sqlite3.Error as exc:
            logger.error("could not record %d checkpoints: %s", count, exc)
            return count
        return 0


def _write_durable(conn: sqlite3.Connection, item: Record) -> None:
    match item:
        case DurableStartRecord(_, row):
            durable.start_checkpoint(conn, row)
        case DurableEndRecord(machine, status, timestamp):
            durable.end_checkpoint(conn, machine, status, timestamp)
        case InboxMarkRecord(machine, message_id, status, step, timestamp):
            durable.mark_inbox(conn, [(status, timestamp, step, machine, message_id)])
        case OutboxRecord(message_id, source, target, event_type, message, timestamp):
            durable.post(
                conn,
                message_id=message_id,
                source=source,
                target=target,
                event_type=event_type,
                message=message,
                now=timestamp,
            )
        case DeliveredRecord(message_id, attempts, timestamp):
            durable.mark_delivered(conn, [(timestamp, attempts, message_id)])


def _run_request(conn: sqlite3.Connection, req: Request[Any], now: float, path: str) -> None:
    req.error = None  # a batch run again (PostgreSQL, after a lost connection) starts afresh
    if req.single:  # nothing to undo: it changes nothing unless it succeeds
        try:
            req.value = req.fn(conn, now)
        except TransactionLost:
            raise
        except sqlite3.Error as exc:
            try:
                raise_store_error(exc, path)
            except StoreError as error:
                req.error = error
        except Exception as exc:  # its own error (the job was not held)
            req.error = exc
        return
    conn.execute("SAVEPOINT request")
    try:
        req.value = req.fn(conn, now)
    except TransactionLost:
        raise  # the whole batch is run again, this request with it
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO request")
        try:
            raise_store_error(exc, path)
        except StoreError as error:
            req.error = error
    except Exception as exc:
        # The caller's own error (DuplicateJob, JobNotFound, ValueError): undo its writes
        # and hand the exception back to the caller, who re-raises it.
        conn.execute("ROLLBACK TO request")
        req.error = exc
    conn.execute("RELEASE request")
