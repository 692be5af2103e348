"""``statemachine-ui --db postgresql://...`` on one host shows a machine of another host moving:
the machine's events never reach this host's event socket, only the shared database."""

from __future__ import annotations

import json
import re

import pytest
import trio
from trio_websocket import open_websocket_url

from .conftest import STATEMACHINE_DB, STATEMACHINE_UI, Site
from .test_hosts_send_event import LISTENER

pytestmark = pytest.mark.slow


async def websocket_url(site: Site, timeout: float = 20) -> str:
    log = site.root / "a-ui.out"
    with trio.fail_after(timeout):
        while True:
            found = re.search(r"WebSocket events:\s+(\S+)", log.read_text() if log.exists() else "")
            if found:
                return found.group(1)
            await trio.sleep(0.05)


async def test_the_monitor_shows_a_machine_of_another_host_moving(site: Site) -> None:
    site.machine("b", site.write("listener.yaml", LISTENER), "listener")
    await trio.to_thread.run_sync(
        site.wait,
        "listener registered on host b",
        lambda: site.value("SELECT host FROM machine_state WHERE machine_name = 'listener'") == "b",
    )
    ui = [STATEMACHINE_UI, "--port", "0", "--websocket-port", "0", "--db", site.url]
    site.start("a", ui, "a-ui")
    url = await websocket_url(site)
    async with open_websocket_url(url) as ws:
        initial = json.loads(await ws.get_message())
        assert initial["type"] == "initial"
        sent = await trio.to_thread.run_sync(
            site.run, "a", [STATEMACHINE_DB, "send-event", "--target", "listener", "--type", "ping"]
        )
        assert sent.returncode == 0, sent.stderr
        with trio.fail_after(15):
            while True:
                event = json.loads(await ws.get_message())
                if event.get("machine_name") == "listener" and event["type"] == "state_change":
                    break
    assert event["payload"]["to_state"] == "pinged"
    assert event["payload"]["event_trigger"] == "ping"
