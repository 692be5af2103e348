"""The monitor's API against real processes: a ``statemachine`` runtime and a
``statemachine-ui`` reading its database. An event sent through the API moves the machine,
the audit log shows who sent it, and the history outlives the machine."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import trio

from .conftest import BIN, START_TIMEOUT, Cluster

pytestmark = pytest.mark.slow

STATEMACHINE_UI = str(BIN / "statemachine-ui")

SWITCH_YAML = """\
initial_state: waiting
final_states: [stopped]
states: [waiting, working, stopped]
events: [go, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
actions:
  working:
    - {type: log, message: "working on {event_data.payload.order}"}
"""


def request(
    url: str, *, method: str = "GET", body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read())


async def test_an_event_sent_through_the_api_moves_a_real_machine(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))  # where the write token is saved
    config = cluster.write("switch.yaml", SWITCH_YAML)
    await cluster.start(config, "switch")
    ui = await cluster.spawn(
        [STATEMACHINE_UI, "--db", str(cluster.db), "--ui-port", "0", "--no-websocket",
         "--config", str(config)],
        "ui",
    )  # fmt: skip
    found = await cluster.wait_db(
        "the UI's link",
        lambda: re.search(r"Monitor UI: +(http://\S+)/#token=(\S+)", ui.output()),
        timeout=START_TIMEOUT,
    )
    base, token = found.group(1), found.group(2)
    saved = re.search(r"Write token: +(\S+)", ui.output())
    assert saved is not None and Path(saved.group(1)).read_text().strip() == token

    async def call(path: str, **kwargs: Any) -> tuple[int, Any]:
        return await trio.to_thread.run_sync(lambda: request(base + path, **kwargs))

    # no token: refused, nothing sent
    status, body = await call("/api/machines/switch/events", method="POST", body={"type": "go"})
    assert status == 401, body
    status, body = await call(
        "/api/machines/switch/events",
        method="POST",
        body={"type": "go", "payload": {"order": 42}},
        token=token,
    )
    assert (status, body["delivered"], body["status"]) == (200, True, "delivered"), body
    await cluster.events.wait_state("switch", "working")

    status, audit = await call("/api/audit")
    [entry] = audit["entries"]
    assert (entry["actor"], entry["action"], entry["target"], entry["result"]) == (
        "ui:127.0.0.1", "send-event", "switch", "ok",
    )  # fmt: skip
    assert entry["detail"]["payload"] == {"order": 42}

    status, body = await call("/api/machines/switch/stop", method="POST", token=token)
    assert status == 200 and body["delivered"] is True, body
    await cluster.events.wait_state("switch", "stopped")

    async def ended() -> dict[str, Any]:
        _, page = await call("/api/machines/switch")
        machine: dict[str, Any] = page["machine"]
        return machine

    with trio.fail_after(10):
        while (machine := await ended())["status"] == "running":
            await trio.sleep(0.05)  # another process's commit cannot wake us
    assert (machine["status"], machine["state"]) == ("finished", "stopped")
    _, history = await call("/api/machines/switch/history")
    assert [i["to_state"] for i in history["items"] if i["kind"] == "transition"][:2] == [
        "stopped",
        "working",
    ]
    _, audit = await call("/api/audit")
    assert [e["action"] for e in audit["entries"]] == ["stop", "send-event"]
