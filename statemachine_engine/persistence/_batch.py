"""What the writer writes in one transaction, and how: records (tuples) and requests.

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
from statemachine_engine.persistence import _records_sql as records
from statemachine_engine.persistence._schema import raise_store_error

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Record tuples; the first item names the kind.
#   ("start", machine, state, config_type, pid, endpoint, timestamp)
#   ("trans", machine, from_state, to_state, event, timestamp, context dict or None)
#   ("stop", machine)
#   ("error", machine, state, action, message, traceback, job_id, timestamp)
#   ("event", source, target, event_type, job_id, payload text, status, timestamp)
Record = tuple[Any, ...]


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
    ) -> None:
        self.fn = fn
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
    for index, item in enumerate(batch):
        if isinstance(item, Request):
            _run_request(conn, item, now, path)
            continue
        try:
            _write_record(conn, item, index, snapshots, transitions)
        except sqlite3.Error as exc:
            failed += 1
            logger.error("could not record %s for %r: %s", item[0], item[1], exc)
    if transitions:
        records.insert_transitions(conn, transitions)
    return failed


def _write_record(
    conn: sqlite3.Connection,
    item: Record,
    index: int,
    snapshots: dict[int, str | None],
    transitions: list[tuple[str, str | None, str, str | None, float]],
) -> None:
    kind = item[0]
    if kind == "trans":
        _, machine, from_state, to_state, event, timestamp, _context = item
        transitions.append((machine, from_state, to_state, event, timestamp))
        if index in snapshots:
            records.update_machine(
                conn,
                machine,
                current_state=to_state,
                timestamp=timestamp,
                context=snapshots[index],
            )
    elif kind == "start":
        _, machine, state, config_type, pid, endpoint, timestamp = item
        records.upsert_machine(
            conn,
            machine,
            current_state=state,
            config_type=config_type,
            pid=pid,
            endpoint=endpoint,
            timestamp=timestamp,
        )
    elif kind == "stop":
        records.delete_machine(conn, item[1])
    elif kind == "error":
        _, machine, state, action, message, traceback, job_id, timestamp = item
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
    elif kind == "event":
        _, source, target, event_type, job_id, payload, status, timestamp = item
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
    else:  # pragma: no cover - the store builds these tuples
        raise ValueError(f"unknown record kind {kind!r}")


def _run_request(conn: sqlite3.Connection, req: Request[Any], now: float, path: str) -> None:
    conn.execute("SAVEPOINT request")
    try:
        req.value = req.fn(conn, now)
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
