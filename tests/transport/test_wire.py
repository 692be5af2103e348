"""JSON-lines framing and parsing: every error a control line can have, named precisely."""

from __future__ import annotations

import json
from json import encoder as json_encoder
from pathlib import PurePosixPath
from typing import Any

import pytest

from statemachine_engine.transport import MAX_LINE_BYTES, MachineEvent, Message, _wire
from statemachine_engine.transport._wire import (
    TOO_LONG,
    LineReader,
    WireError,
    ack_error,
    ack_line,
    encode_event,
    encode_json,
    encode_message,
    parse_ack,
    parse_event,
    parse_message,
)


def test_lines_split_across_chunks() -> None:
    reader = LineReader()
    assert reader.feed(b'{"type":"a"}\n{"ty') == [b'{"type":"a"}']
    assert reader.feed(b'pe":"b"}') == []
    assert reader.feed(b"\n\n{}\n") == [b'{"type":"b"}', b"", b"{}"]
    assert reader.buffered == 0


def test_line_of_exactly_the_limit_is_accepted_one_more_byte_is_not() -> None:
    reader = LineReader(max_line_bytes=10)
    assert reader.feed(b"x" * 10 + b"\n") == [b"x" * 10]
    assert reader.feed(b"y" * 11 + b"\nok\n") == [TOO_LONG, b"ok"]


def test_overlong_line_is_reported_once_as_soon_as_it_passes_the_limit() -> None:
    reader = LineReader(max_line_bytes=10)
    assert reader.feed(b"z" * 8) == []
    assert reader.feed(b"z" * 8) == [TOO_LONG]
    # the rest of that line is dropped without being buffered, however long it is
    for _ in range(100):
        assert reader.feed(b"z" * 1000) == []
        assert reader.buffered == 0
    assert reader.feed(b"zz\n{}\n") == [b"{}"]


def test_finish_returns_a_last_line_without_newline() -> None:
    reader = LineReader()
    assert reader.feed(b'{"type":"go"}') == []
    assert reader.finish() == [b'{"type":"go"}']
    assert reader.finish() == []


def test_default_limit_is_one_mebibyte() -> None:
    assert MAX_LINE_BYTES == 1024 * 1024
    reader = LineReader()
    big = b"a" * MAX_LINE_BYTES
    assert reader.feed(big + b"\n") == [big]
    assert reader.feed(big + b"a\n") == [TOO_LONG]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"type": "go"', "malformed JSON: Expecting ',' delimiter at line 1 column 14"),
        (b"not json", "malformed JSON: Expecting value at line 1 column 1"),
        (b"[1, 2]", "message must be a JSON object, got an array"),
        (b'"go"', "message must be a JSON object, got a string"),
        (b"42", "message must be a JSON object, got a number"),
        (b"null", "message must be a JSON object, got null"),
        (b'{"payload": {}}', "message has no 'type'"),
        (b'{"type": 7}', "message 'type' must be a string, got a number"),
        (b'{"type": ""}', "message 'type' must not be empty"),
        (b'{"type": "  "}', "message 'type' must not be empty"),
        (b'{"type": "go", "target": 3}', "'target' must be a string"),
        (b'{"type": "\xff"}', "message is not valid UTF-8 (bad byte at offset 10)"),
    ],
)
def test_bad_lines_name_what_is_wrong(line: bytes, error: str) -> None:
    with pytest.raises(WireError) as info:
        parse_message(line)
    assert str(info.value).startswith(error)


def test_message_keeps_fields_and_decodes_a_json_string_payload() -> None:
    line = json.dumps(
        {"type": "go", "payload": '{"n": 1}', "target": "w", "job_id": 7, "trace": "t"}
    ).encode()
    message = parse_message(line)
    assert message == Message(
        type="go", payload={"n": 1}, target="w", job_id="7", source=None, extra={"trace": "t"}
    )


def test_encode_message_round_trips_and_refuses_oversized() -> None:
    message = Message(type="go", payload={"text": "two\nlines"}, target="w")
    line = encode_message(message)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert parse_message(line[:-1]) == message
    with pytest.raises(WireError, match="at most 1 MiB"):
        encode_message({"type": "go", "payload": "x" * MAX_LINE_BYTES})


def test_acks() -> None:
    assert parse_ack(ack_line()) == {"ok": True}
    assert parse_ack(ack_line({"pong": True})) == {"ok": True, "pong": True}
    assert parse_ack(ack_error("no")) == {"ok": False, "error": "no"}
    with pytest.raises(WireError, match="no boolean 'ok'"):
        parse_ack(b'{"ok": "yes"}')


def test_events_parse_and_refuse() -> None:
    event = MachineEvent("w", "state_change", {"from_state": "a", "to_state": "b"}, 1.5, 3)
    assert parse_event(encode_event(event)[:-1]) == event
    with pytest.raises(WireError, match="machine_name"):
        parse_event(b'{"type": "state_change"}')
    with pytest.raises(WireError, match="event must be a JSON object"):
        parse_event(b"[]")
    # a monitor's event socket hears whatever is written to it: a line json.loads refuses
    # with a plain ValueError is refused like any other
    with pytest.raises(WireError, match="unusable JSON: Exceeds the limit"):
        parse_event(b'{"machine_name": "w", "type": "x", "payload": {"n": ' + b"9" * 4301 + b"}}")
    with pytest.raises(WireError, match="'timestamp' is out of range"):
        parse_event(b'{"machine_name": "w", "type": "x", "timestamp": -1' + b"0" * 400 + b"}")


#: values whose JSON text the lines must spell exactly as ``json.dumps`` does
AWKWARD: list[Any] = [
    {"f": 0.1, "big": 1e300, "neg": -0.0, "nan": float("nan"), "inf": float("-inf")},
    {"text": 'caf\u00e9 \u2603 \U0001f600 "quoted" back\\slash \x00\x1f\n'},
    {7: "int key", 2.5: "float key", True: "bool key", None: "none key"},
    {"nested": [{"a": (1, 2)}, [], {}], "path": PurePosixPath("/tmp/x"), "set": {3}},
    {"big_int": 2**70, "bool": False, "none": None},
]


@pytest.mark.parametrize("value", AWKWARD)
@pytest.mark.parametrize("accelerated", [True, False], ids=["c-encoder", "no-c-encoder"])
def test_json_text_is_what_json_dumps_writes(
    value: Any, accelerated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not accelerated:
        monkeypatch.setattr(json_encoder, "c_make_encoder", None)
    encode = _wire._compact_encoder()
    assert encode(value) == json.dumps(value, separators=(",", ":"), default=str)
    assert encode("plain") == '"plain"'


def test_a_structure_that_contains_itself_is_refused_with_a_value_error() -> None:
    looped: dict[str, Any] = {"machine": "w"}
    looped["self"] = [looped]
    with pytest.raises(ValueError, match="Circular reference"):
        encode_json(looped)
    # and the encoder works on afterwards
    assert encode_json({"ok": True}) == '{"ok":true}'
    event = MachineEvent("w", "state_change", {"context": looped}, 1.5, 3)
    with pytest.raises(ValueError, match="Circular reference"):
        encode_event(event)
