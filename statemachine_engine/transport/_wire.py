"""JSON-lines framing for the control and event sockets, without I/O.

One UTF-8 JSON object per ``\\n``-terminated line, at most :data:`MAX_LINE_BYTES` bytes a
line. The control socket answers every message line with one acknowledgement line,
``{"ok": true}`` or ``{"ok": false, "error": "..."}``. Imports no trio.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from json import encoder as json_encoder
from typing import TYPE_CHECKING, Any, Final

from statemachine_engine import _strict_json as strict_json

if TYPE_CHECKING:
    # imported where used: the blocking clients stay free of attrs (start-up time)
    from statemachine_engine.transport._protocol import MachineEvent, Message

#: longest line either socket accepts
MAX_LINE_BYTES: Final = 1024 * 1024

#: one encoder for every line (``json.dumps`` with options builds a new one per call)
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)


def _compact_encoder() -> Callable[[Any], str]:
    """``_ENCODER.encode``, calling CPython's C encoder directly when there is one.

    ``JSONEncoder.encode`` builds a new C encoder object for every call: two of the five
    microseconds an event line costs. This one is built once, with the same settings, and
    without the circular-reference check (whose ``markers`` would be state shared between
    threads): a structure that contains itself ends at the recursion limit instead, turned
    into the ``ValueError`` the check raises.
    """
    make = getattr(json_encoder, "c_make_encoder", None)  # (CPython's; typeshed omits it)
    if make is None:  # no C accelerator (another Python implementation)
        return _ENCODER.encode
    chunks = make(
        None, str, json_encoder.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def encode(data: Any) -> str:
        try:
            return "".join(chunks(data, 0))
        except RecursionError:
            raise ValueError("Circular reference detected (or nesting too deep)") from None

    return encode


_encode = _compact_encoder()


class WireError(ValueError):
    """A line that cannot be used; the message says what is wrong with it."""


class LineTooLong:
    """Stands in, in :meth:`LineReader.feed` output, for a line over the size limit."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "TOO_LONG"


#: the one :class:`LineTooLong` instance
TOO_LONG: Final = LineTooLong()


def too_long_error(limit: int = MAX_LINE_BYTES) -> str:
    """The error text for a line over ``limit`` bytes."""
    return f"line too long: more than {limit} bytes (limit {_size(limit)}); the line was discarded"


def _size(limit: int) -> str:
    if limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


class LineReader:
    """Splits a byte stream into lines; a line over the limit is reported once and skipped.

    ``feed`` returns the complete lines found so far, without their ``\\n``, or
    :data:`TOO_LONG` for a line over ``max_line_bytes``. Such a line is reported as soon as
    the limit is passed, and everything up to its end is then dropped without buffering,
    so a peer cannot make the reader hold more than ``max_line_bytes``.
    """

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._buf = bytearray()
        self._scanned = 0  # bytes of _buf already searched for a newline
        self._discarding = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | LineTooLong]:
        out: list[bytes | LineTooLong] = []
        if self._discarding:
            newline = data.find(b"\n")
            if newline < 0:
                return out
            data = data[newline + 1 :]
            self._discarding = False
        buf = self._buf
        buf += data
        limit = self.max_line_bytes
        start = 0
        search = self._scanned
        while True:
            newline = buf.find(b"\n", search)
            if newline < 0:
                break
            out.append(TOO_LONG if newline - start > limit else bytes(buf[start:newline]))
            start = search = newline + 1
        if start:
            del buf[:start]
        if len(buf) > limit:
            out.append(TOO_LONG)
            buf.clear()
            self._discarding = True
        self._scanned = len(buf)
        return out

    def finish(self) -> list[bytes]:
        """At end of stream: the last line if it had no ``\\n`` (``printf ... | nc`` sends none)."""
        rest = bytes(self._buf)
        self._buf.clear()
        self._scanned = 0
        self._discarding = False
        return [rest] if rest.strip() else []


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def decode_object(line: bytes, what: str = "message") -> dict[str, Any]:
    """Decode one line that must hold a JSON object; WireError says what is wrong."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"{what} is not valid UTF-8 (bad byte at offset {exc.start})") from None
    try:
        data = strict_json.loads(text)
    except strict_json.NonStandardJSON as exc:
        raise WireError(f"unusable JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise WireError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:  # a number too long to convert (over 4,300 digits), ...
        raise WireError(f"unusable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise WireError(f"{what} must be a JSON object, got {_kind(data)}")
    return data


def parse_message(line: bytes) -> Message:
    """A control-socket line as a :class:`Message`; WireError names what is wrong."""
    data = decode_object(line)
    if "type" not in data:
        raise WireError("""message has no 'type' (expected e.g. {"type": "start"})""")
    kind = data["type"]
    if not isinstance(kind, str):
        raise WireError(f"message 'type' must be a string, got {_kind(kind)}")
    if not kind.strip():
        raise WireError("message 'type' must not be empty")
    try:
        from statemachine_engine.transport._protocol import Message

        return Message.from_dict(data)
    except ValueError as exc:
        raise WireError(str(exc)) from None


def parse_event(line: bytes) -> MachineEvent:
    """An event-socket line as a :class:`MachineEvent`; WireError names what is wrong."""
    data = decode_object(line, "event")
    try:
        from statemachine_engine.transport._protocol import MachineEvent

        return MachineEvent.from_dict(data)
    except ValueError as exc:
        raise WireError(str(exc)) from None


def encode_line(data: Mapping[str, Any]) -> bytes:
    """One compact JSON line. JSON escapes newlines inside strings, so framing is safe."""
    return _encode(data).encode("utf-8") + b"\n"


def encode_message(message: Message | Mapping[str, Any]) -> bytes:
    """A message as a control-socket line; WireError if it is over the size limit."""
    line = encode_line(message if isinstance(message, Mapping) else message.to_dict())
    if len(line) - 1 > MAX_LINE_BYTES:
        raise WireError(
            f"message is {len(line) - 1} bytes encoded; the control socket accepts at most "
            f"{_size(MAX_LINE_BYTES)} a message"
        )
    return line


def encode_json(data: Mapping[str, Any]) -> str:
    """Compact JSON text, as every line of both sockets is written (unknown types as
    ``str``)."""
    return _encode(data)


def encode_event(event: MachineEvent) -> bytes:
    return encode_line(event.to_dict())


ACK_OK: Final = b'{"ok":true}\n'


def ack_error(error: str) -> bytes:
    """The acknowledgement line refusing a message."""
    return encode_line({"ok": False, "error": error})


def ack_line(extra: Mapping[str, Any] | None = None) -> bytes:
    """The acknowledgement line accepting a message, with optional extra fields."""
    if not extra:
        return ACK_OK
    return encode_line({**extra, "ok": True})


def parse_ack(line: bytes) -> dict[str, Any]:
    """Decode an acknowledgement; WireError unless it is an object with a boolean ``ok``."""
    data = decode_object(line, "acknowledgement")
    if not isinstance(data.get("ok"), bool):
        raise WireError("acknowledgement has no boolean 'ok'")
    return data
