"""Journal: what a durable machine writes at each step, and where it waits for the disk.

A durable machine's checkpoint says where it is: its state, the transition that entered it,
the action it is at (``phase`` is ``transition`` for a transition's own actions, ``entry``
for the state's entry actions; ``action_index`` counts the actions done) and how many times
that action has been started (``attempt``), its context, its entry time and timer deadline
on the wall clock, and its step (transitions made). Writes ride the store's group commit;
the machine waits for them (:meth:`Journal.settle`) only before a side effect:

* before an action starts, its start is committed -- so a completed action is never run
  again, and an action that may have run is known to be a retry;
* after actions ran, before the machine waits idle;
* a message is acknowledged only once it is in the inbox (:meth:`Journal.receive`).

A transition with no actions waits for nothing: if the process dies before its commit, the
machine resumes in the state before, and the message that fired it is still pending in its
inbox, so it fires again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from statemachine_engine.persistence import CheckpointRecord, dumps_context

if TYPE_CHECKING:
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.persistence import DurableLog
    from statemachine_engine.transport import Message

#: context keys an action of a durable machine reads: which start of this action this is
#: (1 the first), and whether it is a retry (the process died while it may have run); a
#: ``bash`` command reads them as ``$SM_ACTION_ATTEMPT`` and ``$SM_ACTION_RETRY``
ATTEMPT_KEY = "action_attempt"
RETRY_KEY = "action_retry"

TRANSITION = "transition"
ENTRY = "entry"


class Position:
    """Where a checkpoint says a durable machine is."""

    __slots__ = (
        "action_index",
        "attempt",
        "deadline",
        "entered_at",
        "event",
        "from_state",
        "phase",
        "state",
        "step",
    )

    def __init__(
        self,
        state: str,
        from_state: str | None,
        event: str | None,
        phase: str,
        action_index: int,
        attempt: int,
        entered_at: float | None,
        deadline: float | None,
        step: int,
    ) -> None:
        self.state = state
        self.from_state = from_state
        self.event = event
        self.phase = phase
        self.action_index = action_index
        self.attempt = attempt
        self.entered_at = entered_at
        self.deadline = deadline
        self.step = step

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Position:
        return cls(
            state=str(row["state"]),
            from_state=row.get("from_state"),
            event=row.get("event"),
            phase=str(row.get("phase") or ENTRY),
            action_index=int(row.get("action_index") or 0),
            attempt=int(row.get("attempt") or 0),
            entered_at=row.get("entered_at"),
            deadline=row.get("deadline"),
            step=int(row.get("step") or 0),
        )


class Journal:
    """The checkpoint writer of one durable machine."""

    __slots__ = (
        "_log",
        "_retry",
        "_sends",
        "_wall",
        "action_index",
        "attempt",
        "deadline",
        "duplicates",
        "entered_at",
        "event",
        "from_state",
        "message_id",
        "name",
        "phase",
        "run_id",
        "state",
        "step",
        "unsettled",
    )

    def __init__(
        self,
        name: str,
        log: DurableLog,
        wall: Callable[[], float],
        *,
        run_id: str,
        resume: Position | None = None,
    ) -> None:
        self.name = name
        self.run_id = run_id
        self._log = log
        self._wall = wall
        self.state = resume.state if resume else ""
        self.from_state = resume.from_state if resume else None
        self.event = resume.event if resume else None
        self.phase = resume.phase if resume else ENTRY
        self.action_index = resume.action_index if resume else 0
        self.attempt = resume.attempt if resume else 0
        self.entered_at = resume.entered_at if resume else None
        self.deadline = resume.deadline if resume else None
        self.step = resume.step if resume else 0
        #: the action the process may have died in: (phase, index) -> attempts so far
        self._retry = (
            (resume.phase, resume.action_index, resume.attempt)
            if resume and resume.attempt
            else None
        )
        #: the inbox message the current step used, until a checkpoint carries it
        self.message_id: str | None = None
        self._sends = 0
        #: an action finished since the last barrier: commit before waiting idle
        self.unsettled = False
        #: messages received again and dropped
        self.duplicates = 0

    def row(self, spec: MachineSpec, parent: Any, pid: int, context: str | None) -> tuple[Any, ...]:
        """The whole checkpoint row as this run starts or resumes (``parent``: the durable
        machine that started it with ``start_fsm``, with ``name``, ``run_id``, ``on_done``;
        ``context``: the checkpoint's, as JSON text)."""
        return (
            self.name,
            self.run_id,
            spec.config_type,
            os.path.abspath(spec.source) if spec.source else None,
            self.state or spec.initial_state,
            self.from_state,
            self.event,
            self.phase,
            self.action_index,
            self.attempt,
            context,
            self.entered_at,
            self.deadline,
            self.step,
            parent.name if parent is not None else None,
            parent.run_id if parent is not None else None,
            parent.on_done if parent is not None else None,
            "running",
            pid,
            self._wall(),
        )

    # -- steps ---------------------------------------------------------------------------

    def fired(
        self,
        source: str,
        target: str,
        event: str,
        message_id: str | None,
        context: Mapping[str, Any],
        *,
        has_actions: bool,
    ) -> None:
        """A transition fires. With actions of its own it is checkpointed now (they run
        before the target is entered); without, the entry of the target is the checkpoint."""
        self.step += 1
        self.from_state = source
        self.event = event
        self.message_id = message_id
        if has_actions:
            self.state = target
            self._at(TRANSITION, 0, 0)
            self.entered_at = self.deadline = None
            self._write(context)

    def entered(self, state: str, timer: float | None, context: Mapping[str, Any]) -> None:
        """``state`` is entered (its timer, if any, due ``timer`` seconds from now)."""
        now = self._wall()
        self.state = state
        self.entered_at = now
        self.deadline = now + timer if timer is not None else None
        self._at(ENTRY, 0, 0)
        self._write(context)

    def starting(self, phase: str, index: int, context: dict[str, Any]) -> None:
        """Action ``index`` of ``phase`` is about to start: which attempt it is goes into the
        context and the checkpoint. Wait for :meth:`settle` before running it."""
        attempt = 1
        retry = self._retry
        if retry is not None and retry[0] == phase and retry[1] == index:
            attempt = retry[2] + 1
        self._retry = None
        context[ATTEMPT_KEY] = attempt
        context[RETRY_KEY] = attempt > 1
        self._at(phase, index, attempt)
        self._sends = 0
        self._write(context)

    def finished(self, phase: str, count: int, context: Mapping[str, Any]) -> None:
        """The actions of ``phase`` are done (``count`` of them); the machine goes idle."""
        self._at(phase, count, 0)
        self._write(context)
        self.unsettled = True

    async def settle(self) -> None:
        """Wait until everything written so far is committed."""
        self.unsettled = False
        await self._log.barrier()

    def ended(self, reason: str) -> None:
        """The machine stopped: ``final`` ends it; ``stopped`` or ``crashed`` keep the
        checkpoint for a resume."""
        self._log.ended(self.name, reason)

    # -- messages ------------------------------------------------------------------------

    async def receive(self, message: Message) -> Message | None:
        """Record ``message`` in the inbox (committed when this returns) and give it its id;
        None when it is a duplicate of one recorded before."""
        message = _with_id(message)
        assert message.message_id is not None
        new = await self._log.receive(
            self.name, message.message_id, message.source, message.type, message.to_json()
        )
        if new:
            return message
        self.duplicates += 1
        return None

    def unused(self, message: Message, status: str = "unhandled") -> None:
        """An inbox message fired nothing: it is not given again after a resume."""
        if message.message_id is not None:
            self._log.used(self.name, message.message_id, status, self.step)

    def outgoing_id(self) -> str:
        """The id of the next message the running action sends: the same when the action
        runs again after a crash, so that the receiver drops the second copy."""
        self._sends += 1
        return f"{self.run_id}:{self.step}:{self.phase[0]}{self.action_index}:{self._sends}"

    def post(self, message: Message) -> None:
        """Record a message in the outbox; deliver it only after :meth:`settle`."""
        assert message.message_id is not None and message.target is not None
        self._log.post(
            message.message_id, self.name, message.target, message.type, message.to_json()
        )

    # -- the record ----------------------------------------------------------------------

    def _at(self, phase: str, index: int, attempt: int) -> None:
        self.phase = phase
        self.action_index = index
        self.attempt = attempt

    def _write(self, context: Mapping[str, Any]) -> None:
        message_id = self.message_id
        self.message_id = None
        self._log.step(
            CheckpointRecord(
                self.name,
                self.state,
                self.from_state,
                self.event,
                self.phase,
                self.action_index,
                self.attempt,
                dumps_context(context),
                self.entered_at,
                self.deadline,
                self.step,
                self._wall(),
                message_id,
            )
        )


def new_run_id() -> str:
    """An id for one run of a durable machine (a fresh start makes a new one)."""
    import uuid  # (only durable machines need it: not imported by every start)

    return uuid.uuid4().hex[:16]


def _with_id(message: Message) -> Message:
    if message.message_id is not None:
        return message
    import uuid

    return attrs.evolve(message, message_id=uuid.uuid4().hex)
