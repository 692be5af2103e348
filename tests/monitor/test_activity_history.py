"""A machine's activity lines (a ``log`` action's) are kept in the store: the monitor's
history of the machine shows them, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from api_support import call

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.monitor import MonitorApp, MonitorHub
from statemachine_engine.persistence import open_store

GREETER = """
initial_state: start
transitions:
  - {from: start, to: stopped, event: success}
actions:
  start: [{type: log, message: "hello {who}", level: warning, success: success}]
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_log_actions_line_is_in_the_machines_history(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db = request.getfixturevalue("pg_url") if backend == "postgresql" else tmp_path / "db"
    async with open_store(db) as store:
        async with open_runtime(store=store) as rt:
            ref = await rt.spawn(load_config_text(GREETER), name="greeter", context={"who": "you"})
            with trio.fail_after(10):
                assert await ref.wait_stopped() == "stopped"
        await store.flush()
        app = MonitorApp(MonitorHub(), browse=store.browse)
        reply = await call(app, "/api/machines/greeter/history")
    items = reply.json()["items"]
    assert [
        (i["kind"], i.get("message"), i.get("level")) for i in items if i["kind"] != "transition"
    ] == [("activity", "hello you", "warning")]
