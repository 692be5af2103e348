"""Lines a fuzzer sent to a running ``statemachine`` that ended it, sent again: each is
answered (refused or taken), and the machine goes on. (Real process, real socket, real
SQLite file.)

The process died of: a message naming an event with half a surrogate pair (``"\\ud800"``),
whose event row the history writer could not encode; and a payload string holding JSON
nested past the interpreter's stack (``"[[[[..."``), which the payload decoder raised as a
RecursionError. A flood of unreadable lines logged one line each.
"""

from __future__ import annotations

import json

import pytest
import trio

from .conftest import STATEMACHINE_DB, Cluster

pytestmark = pytest.mark.slow

FLIP_YAML = """\
metadata: {name: Flip}
initial_state: a
states: [a, b, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
actions:
  b: [{type: log, message: "got {event_data.payload}"}]
"""


async def exchange(path: str, lines: list[bytes]) -> list[dict[str, object]]:
    """Send ``lines`` on one connection; the acknowledgement of each, decoded."""
    stream = await trio.open_unix_socket(path)
    async with stream:
        await stream.send_all(b"".join(line + b"\n" for line in lines))
        data = b""
        while data.count(b"\n") < len(lines):
            chunk = await stream.receive_some(65536)
            assert chunk, f"connection closed after {data!r}"
            data += chunk
    return [json.loads(line) for line in data.splitlines()]


async def test_lines_that_ended_a_runtime_are_answered_and_it_goes_on(cluster: Cluster) -> None:
    config = cluster.write("flip.yaml", FLIP_YAML)
    runtime = await cluster.start(config, "flip")
    path = cluster.control_socket("flip")
    deep = b"[" * 100_000
    acks = await exchange(
        path,
        [
            b'{"type": "\\ud800"}',  # an escaped half of a surrogate pair
            b'{"type": "go", "payload": {"k": "x\\udfff"}}',
            b'{"type": "go", "payload": "' + deep + b'"}',  # a string: kept as written
            b'{"type": "poke", "payload": "' + deep + b'"}',  # fires nothing: audited
            *[b"not json"] * 2500,
            b'{"type": "go"}',
        ],
    )
    assert acks[0] == {"ok": False, "error": acks[0]["error"]}
    assert "unpaired surrogate (\\ud800)" in str(acks[0]["error"])
    assert acks[1]["ok"] is False and "unpaired surrogate (\\udfff)" in str(acks[1]["error"])
    assert acks[2] == {"ok": True}
    assert acks[3] == {"ok": True, "handled": False, "state": "b"}
    assert all(ack["ok"] is False for ack in acks[4:-1])
    assert acks[-1] == {"ok": True}
    # the machine took both events, and its history has them
    await cluster.events.wait_state("flip", "b")
    await cluster.events.wait_state("flip", "a")
    assert cluster.events.transitions("flip")[-2:] == [("a", "go", "b"), ("b", "go", "a")]
    rows = await cluster.wait_db(
        "the unhandled event in machine_events",
        lambda: cluster.query("SELECT payload FROM machine_events WHERE event_type = 'poke'"),
    )
    assert rows[0]["payload"] == "[" * 100_000
    # read back by the command-line tool as the text it is (its JSON decoding raised)
    listing = await cluster.spawn(
        [STATEMACHINE_DB, "list-events", "--db", str(cluster.db), "--format", "json"], "list"
    )
    assert await listing.wait() == 0, listing.output()
    assert "[[[[" in listing.output() and "Traceback" not in listing.output()
    assert runtime.returncode is None
    acks = await exchange(path, [b'{"type": "stop"}'])
    assert acks == [{"ok": True}]
    assert await runtime.wait() == 0
    output = runtime.output()
    assert "Traceback" not in output
    # 2,500 unreadable lines: the first logged, then one in a thousand, with the count
    refused = [line for line in output.splitlines() if "refused a line" in line]
    assert len(refused) == 3, refused
    assert "(1 so far)" in refused[0] and "surrogate" in refused[0]
    assert "(1000 so far)" in refused[1] and "(2000 so far)" in refused[2]
