"""Strings that are not Unicode text, and JSON nested past the stack, from every way in.

A fuzzing pass found: an unpaired surrogate -- an escaped half of a pair in JSON (``"\\ud800"``)
or YAML, or bytes that are not UTF-8 in a command line or a file name -- reached the history
writer, which could not encode it and took the runtime down; a payload string holding
``[[[[...`` made the payload decoder, the monitor's line check and the store's readers raise
RecursionError; ``--machine-name a/b`` printed a traceback. (The process-level check is
tests/e2e/test_poison_lines.py.)
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from statemachine_engine import _strict_json as strict_json
from statemachine_engine.config import StartCache, load_config_text
from statemachine_engine.errors import ConfigError
from statemachine_engine.monitor._hub import MonitorHub
from statemachine_engine.persistence import open_store
from statemachine_engine.persistence._codec import loads_any, loads_object
from statemachine_engine.transport import (
    WireError,
    check_machine_name,
    parse_event,
    parse_message,
)

HALVES = [
    '{"a": "\\ud800"}',
    '{"a": "x\\uDFFFy"}',
    '{"\\udc00": 1}',
    '["ok", {"b": ["\\ud9ff"]}]',
]
DEEP = "[" * 100_000


@pytest.mark.parametrize("text", HALVES)
def test_json_with_half_a_surrogate_pair_is_refused(text: str) -> None:
    assert json.loads(text) is not None  # Python's json lets it through
    with pytest.raises(strict_json.NonStandardJSON, match="unpaired surrogate"):
        strict_json.loads(text)
    with pytest.raises(strict_json.NonStandardJSON, match="unpaired surrogate"):
        strict_json.loads(text.encode())


def test_raw_surrogate_bytes_are_refused_and_whole_pairs_read() -> None:
    with pytest.raises(strict_json.NonStandardJSON, match=r"unpaired surrogate \(\\ud800\)"):
        strict_json.loads(b'{"a": "\xed\xa0\x80"}')  # surrogatepass decodes it
    assert strict_json.loads('{"a": "\\ud83d\\ude00", "b": "caf\\u00e9"}') == {
        "a": "\U0001f600",
        "b": "caf\u00e9",
    }
    assert strict_json.loads('{"a": "\u00e9t\u00e9"}') == {"a": "\u00e9t\u00e9"}


def test_json_nested_past_the_stack_is_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError, match="nested too deeply"):
        strict_json.loads(DEEP)


def test_socket_lines_refuse_them_with_the_reason() -> None:
    with pytest.raises(WireError, match="unusable JSON: a string holds an unpaired surrogate"):
        parse_message(b'{"type": "\\ud800"}')
    with pytest.raises(WireError, match="unpaired surrogate"):
        parse_event(b'{"machine_name": "m", "type": "x", "payload": {"k": "\\udfff"}}')
    with pytest.raises(WireError, match="malformed JSON: nested too deeply"):
        parse_message(b'{"type": "go", "payload": ' + DEEP.encode())
    # a payload string that holds deep JSON stays the string it is
    message = parse_message(b'{"type": "go", "payload": "' + DEEP.encode() + b'"}')
    assert message.payload == DEEP


def test_the_monitor_drops_such_event_lines() -> None:
    hub = MonitorHub()
    assert hub.feed_line(DEEP.encode()) is False
    assert (
        hub.feed_line(b'{"machine_name": "m", "type": "x", "payload": {"k": "\\ud800"}}') is False
    )
    assert hub.stats().invalid == 2


def test_stored_text_that_is_not_json_reads_back_as_text() -> None:
    assert loads_any(DEEP) == DEEP
    assert loads_object(DEEP) == {}


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ('states: [a, "b\\ud800"]', "$.states[1]"),
        ('"k\\udc00": 1', "a key of $"),
    ],
)
def test_yaml_with_half_a_surrogate_pair_is_refused_at_its_line(yaml_text: str, where: str) -> None:
    text = f"metadata: {{name: S}}\ninitial_state: a\n{yaml_text}\n"
    with pytest.raises(ConfigError) as refused:
        load_config_text(text, file="s.yaml")
    issue = refused.value.issues[0]
    assert (issue.file, issue.line) == ("s.yaml", 3)
    assert f"{where} holds an unpaired surrogate" in issue.message


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty"),
        ("a/b", "cannot be part of a socket path"),
        ("bad\udcffname", "is not text (it holds bytes that are not UTF-8)"),
    ],
)
def test_machine_names_that_cannot_be_used_are_named(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_machine_name(name)
    check_machine_name("caf\u00e9-1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--machine-name", "a/b"], "statemachine: --machine-name: machine name 'a/b' cannot"),
        (["--machine-name", "bad\udcffname"], "is not text (it holds bytes that are not UTF-8)"),
    ],
)
def test_the_command_refuses_such_a_name_in_one_line(
    tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "m.yaml").write_text(
        "metadata: {name: M}\ninitial_state: a\nstates: [a, b]\nevents: [go]\n"
        "transitions:\n  - {from: a, to: b, event: go}\n  - {from: b, to: a, event: go}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "statemachine_engine.cli", "m.yaml", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        errors="surrogateescape",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_start_cache_keys_a_path_that_is_not_utf8(tmp_path: Path) -> None:
    cache = StartCache(tmp_path)
    assert cache.key("w\udcff.yaml") != cache.key("w\udcfe.yaml")


def test_a_file_name_that_is_not_utf8_gives_an_escaped_type() -> None:
    spec = load_config_text(
        "metadata: {name: M}\ninitial_state: a\nstates: [a]\n", config_type="w\udcff"
    )
    assert spec.config_type == "w\\xff"
    assert spec.default_name == "w\\xff"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_history_writer_skips_a_record_it_cannot_encode_and_writes_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest, backend: str
) -> None:
    caplog.set_level(logging.ERROR, logger="statemachine_engine.persistence")
    db = str(tmp_path / "h.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with trio.fail_after(30):
        async with open_store(db) as store:
            for name in ("ok-1", "bad\ud800", "ok-2"):
                store.event_sent(
                    source_machine=None,
                    target_machine=name,
                    event_type="poke",
                    payload="x",
                    job_id=None,
                    status="unhandled",
                )
                store.transition(
                    name, from_state="a", to_state="b", event="go", timestamp=1.0, context=None
                )
            await store.flush()
            # the event and the transition of "bad\ud800"; the writer goes on
            assert store.statistics()["failed"] == 2
            store.transition("ok-3", from_state="a", to_state="b", event="go", timestamp=2.0)
            await store.flush()
            events = await store.events(limit=None)
            moves = await store.transitions(limit=None)
    assert sorted(e["target_machine"] for e in events) == ["ok-1", "ok-2"]
    assert sorted(m["machine_name"] for m in moves) == ["ok-1", "ok-2", "ok-3"]
    logged = [r.getMessage() for r in caplog.records]
    assert any("could not record event for 'bad\\ud800'" in m for m in logged), logged
