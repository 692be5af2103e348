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


@pytest.mark.parametrize("value", NON_STANDARD)
def test_the_monitor_drops_an_event_line_with_it(value: str) -> None:
    from statemachine_engine.monitor import MonitorHub

    hub = MonitorHub()
    line = '{"machine_name": "m", "type": "state_change", "payload": {"v": ' + value + "}}"
    assert hub.feed_line(line) is False
    assert hub.invalid == 1 and hub.events_relayed == 0


def test_a_payload_string_with_it_stays_a_string() -> None:
    from statemachine_engine.transport import decode_payload

    assert decode_payload('{"v": NaN}') == '{"v": NaN}'
    assert decode_payload('{"v": 1}') == {"v": 1}


def test_initial_context_with_it_is_refused(tmp_path, capsys) -> None:
    from statemachine_engine.cli._statemachine import main

    config = tmp_path / "m.yaml"
    config.write_text("initial_state: a\nstates: [a]\n")
    assert (
        main([str(config), "--db", str(tmp_path / "d.db"), "--initial-context", '{"x": NaN}']) == 1
    )
    assert "NaN is not a JSON value" in capsys.readouterr().err


def test_statemachine_db_payloads_with_it_are_refused(tmp_path, capsys) -> None:
    from statemachine_engine.cli._db import main

    db = str(tmp_path / "d.db")
    assert main(["--db", db, "add-job", "j1", "--type", "t", "--payload", '{"x": NaN}']) == 1
    assert "NaN is not a JSON value" in capsys.readouterr().err
    code = main(
        ["--db", db, "send-event", "--target", "m", "--type", "go", "--payload", "Infinity"]
    )
    assert code == 1
    assert "Infinity is not a JSON value" in capsys.readouterr().err
