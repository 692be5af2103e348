"""Delivering one event from outside a runtime: to a machine through its control socket
(acknowledged), or to the monitor's event socket (target ``ui``).

Trio-free, blocking and bounded by ``timeout``, for short command-line tools such as
``statemachine-db send-event``. Heavier modules are imported on first use, so that importing
this one costs a command nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

#: the target that means "the monitor", not a machine
UI_TARGET = "ui"


class Delivery(NamedTuple):
    """Whether an event was delivered, and what happened (the socket, or the error)."""

    delivered: bool
    note: str


def deliver_event(
    target: str,
    event_type: str,
    payload: Any = None,
    *,
    source: str,
    job_id: str | None = None,
    endpoint: str | None = None,
    prefix: str | None = None,
    event_socket_path: str | None = None,
    timeout: float = 2.0,
    elsewhere: Callable[[dict[str, Any]], Delivery] | None = None,
    remote: bool = False,
) -> Delivery:
    """Deliver one event and say whether it arrived; never raises for a transport failure.

    A machine gets ``{"type", "payload", "target", "source"[, "job_id"]}`` through the
    control socket at its registered ``endpoint`` (else ``{prefix}-{target}.sock``) and
    must acknowledge it. Target ``ui`` publishes the event to the monitor's event socket
    (``event_socket_path``, else the default) as an event of machine ``source``; a payload
    that is not an object is wrapped as ``{"value": payload}``.

    ``elsewhere`` delivers the message dict another way (several hosts: through the
    database) when the target runs on another host (``remote``) or has no control socket
    on this one.
    """
    # imported only here: the transport's error type pulls in the error tree (and attrs)
    from statemachine_engine.errors import TransportError

    if target == UI_TARGET:
        return _publish(event_type, payload, source, event_socket_path, timeout)
    from statemachine_engine.transport._control_client import send_to_socket
    from statemachine_engine.transport._paths import resolve_socket_path

    message: dict[str, Any] = {
        "type": event_type,
        "payload": payload if payload is not None else {},
    }
    message.update(target=target, source=source)
    if job_id:
        message["job_id"] = job_id
    try:
        path = resolve_socket_path(target, endpoint, prefix)
        if elsewhere is not None and (remote or not os.path.exists(path)):
            return elsewhere(message)
        ack = send_to_socket(path, message, timeout=timeout)
    except TransportError as exc:
        return Delivery(False, str(exc))
    if ack.get("handled") is False:
        return Delivery(
            True,
            f"acknowledged by {path}, but not handled: {target} is idle in state"
            f" {ack.get('state')!r}, where {event_type!r} fires no transition (dropped)",
        )
    return Delivery(True, f"acknowledged by {path}")


def _publish(
    event_type: str, payload: Any, source: str, path: str | None, timeout: float
) -> Delivery:
    from statemachine_engine.errors import TransportError
    from statemachine_engine.transport._event_client import send_events
    from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET
    from statemachine_engine.transport._protocol import MachineEvent

    socket_path = path or DEFAULT_EVENT_SOCKET
    body = payload if isinstance(payload, dict) else ({} if payload is None else {"value": payload})
    event = MachineEvent(source, event_type, body, time.time(), 0)
    try:
        send_events([event], socket_path, timeout=timeout)
    except TransportError as exc:
        return Delivery(False, str(exc))
    return Delivery(True, f"published to the monitor at {socket_path}")
