"""Messages to machines, machine events, and the publishers and transports that carry them.

The wire shapes import no trio, so short command-line tools can use them cheaply; the
trio-based pieces are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports
from statemachine_engine.transport._doorbell import JOB_DOORBELL, ring_doorbells
from statemachine_engine.transport._paths import (
    DEFAULT_CONTROL_PREFIX,
    DEFAULT_EVENT_SOCKET,
    check_machine_name,
    control_socket_path,
    endpoint_path,
    resolve_socket_path,
)
from statemachine_engine.transport._wire import MAX_LINE_BYTES

# Everything else is imported on first use: the short command-line tools import this package
# and must not pay for attrs or trio.
_LAZY = {
    "EVENT_TYPES": "statemachine_engine.transport._protocol",
    "MachineEvent": "statemachine_engine.transport._protocol",
    "Message": "statemachine_engine.transport._protocol",
    "Publisher": "statemachine_engine.transport._protocol",
    "Transport": "statemachine_engine.transport._protocol",
    "WireError": "statemachine_engine.transport._wire",
    "decode_payload": "statemachine_engine.transport._protocol",
    "encode_message": "statemachine_engine.transport._wire",
    "parse_ack": "statemachine_engine.transport._wire",
    "parse_event": "statemachine_engine.transport._wire",
    "parse_message": "statemachine_engine.transport._wire",
    "send_events": "statemachine_engine.transport._event_client",
    "send_message": "statemachine_engine.transport._control_client",
    "send_to_socket": "statemachine_engine.transport._control_client",
    "ControlConnection": "statemachine_engine.transport._socket_transport",
    "ControlServer": "statemachine_engine.transport._control_server",
    "ControlServerStatistics": "statemachine_engine.transport._statistics",
    "EventBus": "statemachine_engine.transport._memory",
    "EventListener": "statemachine_engine.transport._event_listener",
    "FanoutPublisher": "statemachine_engine.transport._memory",
    "ListenerStatistics": "statemachine_engine.transport._event_listener",
    "PublisherStatistics": "statemachine_engine.transport._statistics",
    "RecordingPublisher": "statemachine_engine.transport._memory",
    "SocketEventPublisher": "statemachine_engine.transport._event_publisher",
    "SocketTransport": "statemachine_engine.transport._socket_transport",
    "Subscription": "statemachine_engine.transport._memory",
    "Delivery": "statemachine_engine.transport._delivery",
    "deliver_event": "statemachine_engine.transport._delivery",
}

if TYPE_CHECKING:
    from statemachine_engine.transport._control_client import send_message, send_to_socket
    from statemachine_engine.transport._control_server import ControlServer
    from statemachine_engine.transport._delivery import Delivery, deliver_event
    from statemachine_engine.transport._event_client import send_events
    from statemachine_engine.transport._event_listener import EventListener, ListenerStatistics
    from statemachine_engine.transport._event_publisher import SocketEventPublisher
    from statemachine_engine.transport._memory import (
        EventBus,
        FanoutPublisher,
        RecordingPublisher,
        Subscription,
    )
    from statemachine_engine.transport._protocol import (
        EVENT_TYPES,
        MachineEvent,
        Message,
        Publisher,
        Transport,
        decode_payload,
    )
    from statemachine_engine.transport._socket_transport import ControlConnection, SocketTransport
    from statemachine_engine.transport._statistics import (
        ControlServerStatistics,
        PublisherStatistics,
    )
    from statemachine_engine.transport._wire import (
        WireError,
        encode_message,
        parse_ack,
        parse_event,
        parse_message,
    )

__all__ = [
    "DEFAULT_CONTROL_PREFIX",
    "DEFAULT_EVENT_SOCKET",
    "EVENT_TYPES",
    "JOB_DOORBELL",
    "MAX_LINE_BYTES",
    "ControlConnection",
    "ControlServer",
    "ControlServerStatistics",
    "Delivery",
    "EventBus",
    "EventListener",
    "FanoutPublisher",
    "ListenerStatistics",
    "MachineEvent",
    "Message",
    "Publisher",
    "PublisherStatistics",
    "RecordingPublisher",
    "SocketEventPublisher",
    "SocketTransport",
    "Subscription",
    "Transport",
    "WireError",
    "check_machine_name",
    "control_socket_path",
    "decode_payload",
    "deliver_event",
    "encode_message",
    "endpoint_path",
    "parse_ack",
    "parse_event",
    "parse_message",
    "resolve_socket_path",
    "ring_doorbells",
    "send_events",
    "send_message",
    "send_to_socket",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
