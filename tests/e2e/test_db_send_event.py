"""``statemachine-db send-event`` against running ``statemachine`` processes."""

from __future__ import annotations

import json
import subprocess

import pytest
import trio

from .conftest import STATEMACHINE_DB, Cluster

pytestmark = pytest.mark.slow

SWITCH_YAML = """\
initial_state: waiting
states: [waiting, working, stopped]
events:
  go:
    context_map: {order: payload.order}
  stop: {}
transitions:
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
actions:
  working:
    - {type: log, message: "order {order|json}"}
"""


def send_event(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STATEMACHINE_DB, "send-event", "--db", str(cluster.db), *args],
        cwd=cluster.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_send_event_delivers_to_a_running_machine(cluster: Cluster) -> None:
    runtime = await cluster.start(cluster.write("switch.yaml", SWITCH_YAML), "switch")
    await cluster.wait_db("the registry row", lambda: cluster.registry("switch"))
    order = {"id": 7, "items": [{"sku": "a b", "qty": 2}], "note": "$(touch PWNED)"}

    # found through the registry: the prefix given here leads nowhere
    result = await trio.to_thread.run_sync(
        lambda: send_event(
            cluster,
            "--target",
            "switch",
            "--type",
            "go",
            "--payload",
            json.dumps({"order": order}),
            "--job-id",
            "j-1",
            "--control-socket-prefix",
            str(cluster.sock_dir / "elsewhere"),
        )
    )
    assert result.returncode == 0, result.stderr
    change = await cluster.events.wait_state("switch", "working")
    assert change.payload["event_trigger"] == "go"
    said = await cluster.events.wait_for("switch", "activity_log")
    assert json.loads(said.payload["message"].removeprefix("order ")) == order
    rows = cluster.query("SELECT * FROM machine_events")
    assert [(r["target_machine"], r["event_type"], r["job_id"], r["status"]) for r in rows] == [
        ("switch", "go", "j-1", "delivered")
    ]

    stop = await trio.to_thread.run_sync(
        lambda: send_event(cluster, "--target", "switch", "--type", "stop")
    )
    assert stop.returncode == 0, stop.stderr
    assert await runtime.wait() == 0
    assert not (cluster.root / "PWNED").exists()


async def test_send_event_to_a_machine_that_is_not_running_exits_3(cluster: Cluster) -> None:
    result = await trio.to_thread.run_sync(
        lambda: send_event(
            cluster,
            "--target",
            "nobody",
            "--type",
            "go",
            "--control-socket-prefix",
            cluster.prefix,
        )
    )
    assert result.returncode == 3
    assert "not delivered" in result.stderr
    assert f"no control socket at {cluster.control_socket('nobody')}" in result.stderr
    assert "Traceback" not in result.stderr
    rows = cluster.query("SELECT target_machine, event_type, status FROM machine_events")
    assert rows == [{"target_machine": "nobody", "event_type": "go", "status": "undelivered"}]


async def test_send_event_to_ui_publishes_to_the_monitor(cluster: Cluster) -> None:
    result = await trio.to_thread.run_sync(
        lambda: send_event(
            cluster,
            "--target",
            "ui",
            "--type",
            "activity_log",
            "--source",
            "operator",
            "--payload",
            '{"message": "deploying", "level": "info"}',
            "--event-socket-path",
            cluster.event_socket,
        )
    )
    assert result.returncode == 0, result.stderr
    event = await cluster.events.wait_for("operator", "activity_log")
    assert event.payload["message"] == "deploying"


async def test_send_event_says_when_the_machine_will_not_handle_it(cluster: Cluster) -> None:
    runtime = await cluster.start(cluster.write("switch.yaml", SWITCH_YAML), "switch")
    await cluster.wait_db("the registry row", lambda: cluster.registry("switch"))
    typo = await trio.to_thread.run_sync(
        lambda: send_event(cluster, "--target", "switch", "--type", "gret")
    )
    assert typo.returncode == 0, typo.stderr  # acknowledged: the runtime took it
    assert "not handled: switch is idle in state 'waiting'" in typo.stdout
    assert "'gret' fires no transition" in typo.stdout
    warned = await cluster.events.wait_for("switch", "activity_log")
    assert "'gret' fired nothing in state 'waiting'" in warned.payload["message"]
    await cluster.wait_db(
        "the unhandled event in machine_events",
        lambda: cluster.query("SELECT * FROM machine_events WHERE status = 'unhandled'"),
    )
    assert "event 'gret' fired nothing in state 'waiting'" in runtime.output()
    runtime.send_signal(15)
    await runtime.wait()
