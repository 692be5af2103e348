"""The records a store queues for its writer: one named type per kind of history write.

Recorder calls build one of these and return at once; the writer commits them in batches
(``_batch``). They are NamedTuples because a transition record is built on every transition
of every machine: a NamedTuple costs about as much as the plain tuple it replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple


class StartRecord(NamedTuple):
    """A machine registered (its ``machine_state`` row, replaced if it exists)."""

    machine: str
    state: str
    config_type: str | None
    pid: int | None
    endpoint: str | None
    timestamp: float
    #: the host of the runtime that registers it
    host: str | None = None


class TransitionRecord(NamedTuple):
    """A transition: a history row, and the machine's registry row brought up to date."""

    machine: str
    from_state: str | None
    to_state: str
    event: str | None
    timestamp: float
    #: the machine's live context (serialised when the batch commits), or None
    context: Mapping[str, Any] | None


class StopRecord(NamedTuple):
    """A machine left the registry."""

    machine: str


class ErrorRecord(NamedTuple):
    """A row of the error history."""

    machine: str
    state: str | None
    action: str | None
    message: str
    traceback: str | None
    job_id: str | None
    timestamp: float


class EventRecord(NamedTuple):
    """An audited event (``machine_events``); ``payload`` is already encoded text."""

    source: str | None
    target: str
    event_type: str
    job_id: str | None
    payload: str | None
    status: str
    timestamp: float


class DurableStartRecord(NamedTuple):
    """A durable machine started or resumed: its whole ``durable_machines`` row."""

    machine: str
    row: tuple[Any, ...]


class CheckpointRecord(NamedTuple):
    """A step of a durable machine: where it is now, and the inbox message the step used."""

    machine: str
    state: str
    from_state: str | None
    event: str | None
    phase: str
    action_index: int
    attempt: int
    #: the context as JSON text, taken when the step was made
    context: str | None
    entered_at: float | None
    deadline: float | None
    step: int
    timestamp: float
    message_id: str | None


class DurableEndRecord(NamedTuple):
    """A durable machine stopped: ``final`` (its row goes), ``stopped`` or ``crashed``."""

    machine: str
    status: str
    timestamp: float


class InboxMarkRecord(NamedTuple):
    """An inbox message used up without firing: ``unhandled`` (or ``handled``)."""

    machine: str
    message_id: str
    status: str
    step: int | None
    timestamp: float


class OutboxRecord(NamedTuple):
    """A message a durable machine sends, recorded before it is delivered."""

    message_id: str
    source: str
    target: str
    event_type: str
    message: str
    timestamp: float


class DeliveredRecord(NamedTuple):
    """An outbox message its target acknowledged."""

    message_id: str
    attempts: int
    timestamp: float


#: a TransitionRecord from a tuple of its fields, without the NamedTuple's Python-level
#: ``__new__`` (half the cost): one is built on every transition of every machine
transition_record = partial(tuple.__new__, TransitionRecord)

#: everything a recorder call queues
Record = (
    StartRecord
    | TransitionRecord
    | StopRecord
    | ErrorRecord
    | EventRecord
    | DurableStartRecord
    | CheckpointRecord
    | DurableEndRecord
    | InboxMarkRecord
    | OutboxRecord
    | DeliveredRecord
)
