"""Messages to machines, machine events, and the publishers and transports that carry them.

The wire shapes import no trio, so short command-line tools can use them cheaply; the
trio-based pieces are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from statemachine_engine.transport._protocol import (
    EVENT_TYPES,
    MAX_LINE_BYTES,
    MachineEvent,
    Message,
    Publisher,
    Transport,
    decode_payload,
)

_LAZY = {
    "EventBus": "statemachine_engine.transport._memory",
    "FanoutPublisher": "statemachine_engine.transport._memory",
    "RecordingPublisher": "statemachine_engine.transport._memory",
    "Subscription": "statemachine_engine.transport._memory",
}

if TYPE_CHECKING:
    from statemachine_engine.transport._memory import (
        EventBus,
        FanoutPublisher,
        RecordingPublisher,
        Subscription,
    )

__all__ = [
    "EVENT_TYPES",
    "MAX_LINE_BYTES",
    "EventBus",
    "FanoutPublisher",
    "MachineEvent",
    "Message",
    "Publisher",
    "RecordingPublisher",
    "Subscription",
    "Transport",
    "decode_payload",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
