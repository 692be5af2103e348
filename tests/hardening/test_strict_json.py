"""NaN and Infinity are refused wherever JSON comes in (the browser's JSON.parse rejects them)."""

from __future__ import annotations

import json

import pytest

from statemachine_engine import _strict_json as strict_json
from statemachine_engine.transport import WireError, parse_event, parse_message
from statemachine_engine.transport._wire import parse_ack

NON_STANDARD = ["NaN", "Infinity", "-Infinity", "1e999", "-1E400", "[1, NaN]", '{"a": {"b": NaN}}']


@pytest.mark.parametrize("value", NON_STANDARD)
def test_the_helper_refuses_what_only_python_accepts(value: str) -> None:
    assert json.loads(value) is not None  # what Python's json module lets through
    with pytest.raises(strict_json.NonStandardJSON, match="JSON"):
        strict_json.loads(value)


def test_the_helper_reads_standard_json_as_json_does() -> None:
    text = '{"a": [1, 2.5, -0.0, 1e300, null, true, "NaN"], "b": {"c": "Infinity"}}'
    assert strict_json.loads(text) == json.loads(text)


@pytest.mark.parametrize("value", NON_STANDARD)
def test_every_socket_line_refuses_it(value: str) -> None:
    with pytest.raises(WireError, match="unusable JSON"):
        parse_message(b'{"type": "go", "payload": %s}' % value.encode())
    with pytest.raises(WireError, match="unusable JSON"):
        parse_event(
            b'{"machine_name": "m", "type": "error", "payload": {"v": %s}}' % value.encode()
        )
    with pytest.raises(WireError, match="unusable JSON"):
        parse_ack(b'{"ok": true, "v": %s}' % value.encode())
