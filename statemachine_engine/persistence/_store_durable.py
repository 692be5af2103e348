"""DurableLog: the store's part for durable machines -- checkpoints, inbox and outbox.

Steps, inbox marks and outbox rows are queued like the history (they ride the same group
commit); a machine that must not go on before they are on disk -- it is about to run an
action, or to acknowledge a message -- waits for :meth:`DurableLog.barrier`, which returns
once everything queued before it is committed. Receiving a message is a request: the caller
learns whether the message is new or a duplicate only from the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from statemachine_engine.persistence import _durable_sql as durable
from statemachine_engine.persistence._records import (
    CheckpointRecord,
    DeliveredRecord,
    DurableEndRecord,
    DurableStartRecord,
    InboxMarkRecord,
    OutboxRecord,
)
from statemachine_engine.persistence._writer import Writer

T = TypeVar("T")


class Recovery:
    """What a durable machine resumes from: its checkpoint row, the messages it was given
    and has not used (oldest first), the messages it sent that are not acknowledged, and
    the checkpoints of the ``start_fsm`` children this run of the machine started."""

    __slots__ = ("checkpoint", "children", "inbox", "outbox")

    def __init__(
        self,
        checkpoint: Mapping[str, Any],
        inbox: Sequence[tuple[str, str]],  # (message id, message JSON)
        outbox: Sequence[tuple[str, str, str]],  # (message id, target, message JSON)
        children: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.checkpoint = checkpoint
        self.inbox = inbox
        self.outbox = outbox
        self.children = children


class DurableLog:
    """Checkpoints, inbox and outbox of the durable machines of one store."""

    __slots__ = ("_clock", "_writer")

    def __init__(self, writer: Writer, *, clock: Callable[[], float]) -> None:
        self._writer = writer
        self._clock = clock

    # -- queued with the history ---------------------------------------------------------

    def started(self, machine: str, row: tuple[Any, ...]) -> None:
        """A machine starts or resumes: its whole row (see ``_durable_sql``)."""
        self._writer.record(DurableStartRecord(machine, row))

    def step(self, record: CheckpointRecord) -> None:
        self._writer.record(record)

    def ended(self, machine: str, status: str) -> None:
        """``final`` removes the checkpoint; ``stopped`` / ``crashed`` keep it."""
        self._writer.record(DurableEndRecord(machine, status, self._clock()))

    def used(self, machine: str, message_id: str, status: str, step: int | None) -> None:
        """An inbox message that fired nothing (``unhandled``)."""
        self._writer.record(InboxMarkRecord(machine, message_id, status, step, self._clock()))

    def post(
        self, message_id: str, source: str, target: str, event_type: str, message: str
    ) -> None:
        """Record a message to send; it is delivered once a barrier has committed it."""
        self._writer.record(
            OutboxRecord(message_id, source, target, event_type, message, self._clock())
        )

    def delivered(self, message_id: str, attempts: int) -> None:
        self._writer.record(DeliveredRecord(message_id, attempts, self._clock()))

    # -- waited for ------------------------------------------------------------------------

    async def barrier(self) -> None:
        """Return once everything queued before this call is committed (at once when
        nothing is waiting to be)."""
        if self._writer.unwritten:
            await self._writer.request(_nothing)

    async def receive(
        self, machine: str, message_id: str, source: str | None, event_type: str, message: str
    ) -> bool:
        """Record a message for ``machine``, committed before this returns; False when that
        message id was recorded before (a duplicate: counted, not to be delivered)."""
        return await self._writer.request(
            lambda conn, now: durable.receive(
                conn,
                target=machine,
                message_id=message_id,
                source=source,
                event_type=event_type,
                message=message,
                now=now,
            )
        )

    async def transact(self, fn: Callable[[Any, float], T]) -> T:
        """Run ``fn(conn, now)`` in the writer's next transaction and return its result once
        committed: the inbox rows of machines on other hosts (``_remote_sql``)."""
        return await self._writer.request(fn)

    async def recover(self, machine: str) -> Recovery | None:
        """The checkpoint of ``machine`` with its pending messages, or None."""

        def read(conn: Any, _now: float) -> Recovery | None:
            row = durable.load_checkpoint(conn, machine)
            if row is None:
                return None
            inbox = [(r["message_id"], r["message"]) for r in durable.pending_inbox(conn, machine)]
            outbox = [
                (r["message_id"], r["target_machine"], r["message"])
                for r in durable.pending_outbox(conn, machine)
            ]
            children = durable.children(conn, machine, str(row["run_id"]))
            return Recovery(row, inbox, outbox, children)

        return await self._writer.request(read)

    async def discard(self, machine: str, *, outbox: bool = True) -> tuple[int, int, int]:
        """Remove a checkpoint (``--fresh``); the machine's pending inbox rows -- and outbox
        rows, with ``outbox`` -- are marked discarded. Returns how many (checkpoints, inbox,
        outbox) rows it changed."""
        return await self._writer.request(
            lambda conn, now: durable.discard(conn, machine, now, outbox=outbox)
        )


def _nothing(_conn: Any, _now: float) -> None:
    return None
