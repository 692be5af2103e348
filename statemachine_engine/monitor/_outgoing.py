"""A message for the hub's subscribers, encoded once as JSON text and as a WebSocket frame.

Every client of the hub is then served the same bytes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs


def text_frame(data: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2) holding ``data``.

    Server frames are never masked, so one frame serves every client of the hub.
    """
    size = len(data)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 0x10000:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + data


@attrs.frozen
class Outgoing:
    """One message for subscribers: its JSON text, and the same text as a WebSocket frame."""

    text: str
    frame: bytes

    @classmethod
    def of(cls, message: Mapping[str, Any] | str) -> Outgoing:
        text = (
            message
            if isinstance(message, str)
            else json.dumps(message, separators=(",", ":"), default=str)
        )
        return cls(text, text_frame(text.encode()))
