"""Shapes that cross a process boundary, and the seams the runtime talks through.

* :class:`Message` -- an event sent *to* a machine (control socket line, ``send_event``,
  ``ActorRef.send``): ``{"type", "payload", "target", "job_id", "source"}``.
* :class:`MachineEvent` -- something a machine *did*, published for monitors:
  ``{"machine_name", "type", "payload", "timestamp", "seq"}``.
* :class:`Publisher` -- where machine events go; never blocks, never raises.
* :class:`Transport` -- delivers a message to a machine hosted by another runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from statemachine_engine import _strict_json
from statemachine_engine.transport._wire import MAX_LINE_BYTES as MAX_LINE_BYTES
from statemachine_engine.transport._wire import encode_json

#: Event types a runtime publishes.
EVENT_TYPES = (
    "state_change",
    "machine_registered",
    "machine_terminated",
    "activity_log",
    "error",
    "job_started",
    "job_completed",
)


def decode_payload(payload: Any) -> Any:
    """A string payload holding JSON is decoded once; other values are kept as they are."""
    if isinstance(payload, str):
        text = payload.strip()
        if text[:1] in ("{", "["):
            try:
                return _strict_json.loads(text)
            except ValueError:
                return payload
    return payload


@attrs.frozen(hash=False)
class Message:
    """An event addressed to a machine."""

    type: str
    payload: Any = None
    target: str | None = None
    job_id: str | None = None
    source: str | None = None
    #: any other fields of the message as received, kept for ``event_data``
    extra: Mapping[str, Any] = attrs.field(factory=dict)
    #: the id a durable machine's inbox knows the message by (a resent message keeps it,
    #: so that it is recognised as a duplicate); None: the receiver gives it one
    message_id: str | None = None

    def as_event_data(self) -> dict[str, Any]:
        """The dict actions see as ``{event_data}``: the whole message, payload decoded."""
        data: dict[str, Any] = dict(self.extra)
        data.update(
            type=self.type,
            payload=decode_payload(self.payload) if self.payload is not None else {},
            job_id=self.job_id,
            source=self.source,
        )
        if self.target is not None:
            data["target"] = self.target
        return data

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(self.extra)
        data["type"] = self.type
        data["payload"] = self.payload if self.payload is not None else {}
        for key in ("target", "job_id", "source", "message_id"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    def to_json(self) -> str:
        return encode_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Build from a decoded JSON object; raises ValueError naming what is wrong."""
        kind = data.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError("message needs a non-empty string 'type'")
        target = data.get("target")
        if target is not None and not isinstance(target, str):
            raise ValueError("'target' must be a string")
        job_id = data.get("job_id")
        source = data.get("source")
        message_id = data.get("message_id")
        if message_id is not None and (not isinstance(message_id, str) or not message_id):
            raise ValueError("'message_id' must be a non-empty string")
        extra = {
            k: v
            for k, v in data.items()
            if k not in ("type", "payload", "target", "job_id", "source", "message_id")
        }
        return cls(
            type=kind,
            payload=decode_payload(data.get("payload")),
            target=target,
            job_id=str(job_id) if job_id is not None else None,
            source=str(source) if source is not None else None,
            extra=extra,
            message_id=message_id,
        )


@attrs.frozen(hash=False)
class MachineEvent:
    """Something a machine did, as published to monitors."""

    machine_name: str
    type: str
    payload: Mapping[str, Any]
    timestamp: float
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine_name": self.machine_name,
            "type": self.type,
            "payload": dict(self.payload),
            "timestamp": self.timestamp,
            "seq": self.seq,
        }

    def to_json(self) -> str:
        return encode_json(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MachineEvent:
        """Validate a decoded event line; raises ValueError naming what is wrong."""
        name = data.get("machine_name")
        kind = data.get("type")
        payload = data.get("payload", {})
        if not isinstance(name, str) or not name:
            raise ValueError("event needs a non-empty string 'machine_name'")
        if not isinstance(kind, str) or not kind:
            raise ValueError("event needs a non-empty string 'type'")
        if payload is None:
            payload = {}
        if not isinstance(payload, Mapping):
            raise ValueError("event 'payload' must be an object")
        timestamp = data.get("timestamp", payload.get("timestamp", 0.0))
        if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
            raise ValueError("event 'timestamp' must be a number")
        try:
            # an integer too large for a float (JSON numbers have no size limit)
            timestamp = float(timestamp)
        except OverflowError:
            raise ValueError("event 'timestamp' is out of range") from None
        seq = data.get("seq", 0)
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise ValueError("event 'seq' must be an integer")
        return cls(name, kind, dict(payload), timestamp, seq)


@runtime_checkable
class Publisher(Protocol):
    """Receives every machine event. ``publish`` must return at once and never raise."""

    def publish(self, event: MachineEvent) -> None: ...


@runtime_checkable
class Transport(Protocol):
    """Delivers messages to machines in other runtimes."""

    async def deliver(self, target: str, message: Message) -> None:
        """Deliver and wait for the peer's acknowledgement.

        Raises :class:`~statemachine_engine.errors.TransportError` when the target cannot be
        reached or answers an error.
        """
        ...
