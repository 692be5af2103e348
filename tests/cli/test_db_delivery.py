"""statemachine-db delivering to running machines: send-event and the job doorbell.

Real processes, real sockets, a real SQLite file; every wait is bounded and waits on an event
observed on the event socket.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from statemachine_engine.transport import MachineEvent
from statemachine_engine.transport._event_listener import EventListener

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent

WORKER = """
metadata: {machine_name: worker}
initial_state: waiting
final_states: [stopped]
states: [waiting, working, stopped]
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: waiting, event: no_jobs}
  - {from: working, to: waiting, event: success}
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
actions:
  waiting:
    - {type: check_database_queue, job_type: task, wait: 60}
  working:
    - {type: complete_job}
"""


@pytest.fixture
def place(tmp_path: Path) -> Iterator[dict[str, str]]:
    sockets = tempfile.mkdtemp(prefix="smdb", dir="/tmp")
    config = tmp_path / "worker.yaml"
    config.write_text(WORKER)
    yield {
        "db": str(tmp_path / "jobs.db"),
        "config": str(config),
        "prefix": f"{sockets}/ctl",
        "events": f"{sockets}/ev.sock",
    }
    for name in os.listdir(sockets):
        os.unlink(os.path.join(sockets, name))
    os.rmdir(sockets)


class Observed:
    def __init__(self) -> None:
        self.events: list[MachineEvent] = []
        self.changed = trio.Event()

    async def handle(self, event: MachineEvent) -> None:
        self.events.append(event)
        self.changed.set()
        self.changed = trio.Event()

    async def wait_for(self, kind: str, **payload: object) -> MachineEvent:
        while True:
            for event in self.events:
                if event.type == kind and all(
                    event.payload.get(k) == v for k, v in payload.items()
                ):
                    return event
            await self.changed.wait()


@pytest.fixture
async def observed(place: dict[str, str]) -> AsyncIterator[Observed]:
    seen = Observed()
    listener = EventListener(seen.handle, place["events"])
    async with trio.open_nursery() as nursery:
        await nursery.start(listener.run)
        yield seen
        nursery.cancel_scope.cancel()


def db_cli(place: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "statemachine-db"), "--db", place["db"], *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture
async def worker(place: dict[str, str], observed: Observed) -> AsyncIterator[trio.Process]:
    argv = [str(BIN / "statemachine"), place["config"], "--db", place["db"]]
    argv += ["--control-socket-prefix", place["prefix"], "--event-socket-path", place["events"]]
    process = await trio.lowlevel.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with trio.fail_after(20):
            await observed.wait_for("machine_registered", machine_name="worker")
        yield process
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with trio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_send_event_is_delivered_and_recorded(
    place: dict[str, str], observed: Observed, worker: trio.Process
) -> None:
    result = await trio.to_thread.run_sync(
        lambda: db_cli(
            place,
            "send-event",
            "--target",
            "worker",
            "--type",
            "go",
            "--control-socket-prefix",
            place["prefix"],
        )
    )
    assert result.returncode == 0, result.stderr
    assert "Delivered: acknowledged" in result.stdout
    with trio.fail_after(10):
        await observed.wait_for("state_change", from_state="waiting", event_trigger="go")
    with sqlite3.connect(place["db"]) as conn:
        (status,) = conn.execute(
            "SELECT status FROM machine_events WHERE event_type = 'go'"
        ).fetchone()
    assert status == "delivered"


async def test_send_event_to_a_machine_that_is_not_running_exits_3_and_is_undelivered(
    place: dict[str, str],
) -> None:
    result = await trio.to_thread.run_sync(
        lambda: db_cli(
            place,
            "send-event",
            "--target",
            "ghost",
            "--type",
            "go",
            "--control-socket-prefix",
            place["prefix"],
        )
    )
    assert result.returncode == 3
    assert "not delivered" in result.stderr and "ghost" in result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(place["db"]) as conn:
        (status,) = conn.execute("SELECT status FROM machine_events").fetchone()
    assert status == "undelivered"  # said so, and still handed out by process-events


async def test_adding_a_job_wakes_a_worker_in_another_process_at_once(
    place: dict[str, str], observed: Observed, worker: trio.Process
) -> None:
    # the worker (registered, so in `waiting`) waits up to 60 s for a job and polls the
    # database only every few seconds: a claim within 3 s can only come from the doorbell
    result = await trio.to_thread.run_sync(lambda: db_cli(place, "add-job", "j1", "--type", "task"))
    assert result.returncode == 0, result.stderr
    with trio.fail_after(3):
        started = await observed.wait_for("job_started", job_id="j1")
    assert started.machine_name == "worker"
    with trio.fail_after(10):
        await observed.wait_for("job_completed", job_id="j1")
