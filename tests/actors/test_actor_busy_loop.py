"""The busy-loop report: a machine that fires transitions for ever without ever blocking is
reported once; one whose actions wait on something real (the store, a timer) is not, however
many internal transitions it fires in a row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.persistence import NewJob, SqlStore, open_memory_store, open_store
from statemachine_engine.transport import RecordingPublisher

THRESHOLD = 100

WORKER = """
initial_state: waiting
transitions:
  - {from: waiting, to: working, event: new_job}
  - {from: waiting, to: stopped, event: no_jobs}
  - {from: working, to: done, event: job_done}
  - {from: done, to: waiting, event: success}
actions:
  waiting: [{type: check_database_queue, job_type: drain, wait: 0}]
  working: [{type: set_context, key: seen, value: "{job_id}", success: job_done}]
  done: [{type: complete_job}]
"""

LOOPER = """
initial_state: ping
transitions:
  - {from: ping, to: pong, event: p}
  - {from: pong, to: ping, event: q}
actions:
  ping: [{type: %(action)s, event: p}]
  pong: [{type: %(action)s, event: q}]
"""


class StepAction(BaseAction):
    """Returns its event at once."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        return self.config.get("event")


class YieldAction(BaseAction):
    """Returns its event after a schedule point that does not block (``sleep(0)``)."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        await trio.sleep(0)
        return self.config.get("event")


class NapAction(BaseAction):
    """Returns its event after a real wait on the clock."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        await trio.sleep(0.001)
        return self.config.get("event")


ACTIONS: dict[str, type[BaseAction]] = {"step": StepAction, "yield": YieldAction, "nap": NapAction}


def spec(text: str) -> MachineSpec:
    return load_config_text(text)  # (no type check: built-in and test actions mixed)


@pytest.fixture(autouse=True)
def _small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("statemachine_engine.actors._crossing.BUSY_LOOP_THRESHOLD", THRESHOLD)


def busy_reports(recorder: RecordingPublisher, caplog: pytest.LogCaptureFixture) -> list[str]:
    published = [
        str(e.payload["message"])
        for e in recorder.of_type("activity_log")
        if "in a row" in str(e.payload["message"])
    ]
    logged = [r.getMessage() for r in caplog.records if "in a row" in r.getMessage()]
    assert len(published) == len(logged)
    return published


STORES: dict[str, Callable[[Path], AbstractAsyncContextManager[SqlStore]]] = {
    "memory": lambda _: open_memory_store(),
    # a SQLite file commits a claim on the trio thread: its waiter wakes in the next round
    "file": lambda folder: open_store(str(folder / "queue.db")),
}


@pytest.mark.parametrize("kind", list(STORES))
async def test_a_worker_draining_a_backlog_from_the_store_is_not_a_busy_loop(
    kind: str,
    tmp_path: Path,
    recorder: RecordingPublisher,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    jobs = 3 * THRESHOLD  # each job is three internal transitions: 9x the threshold
    caplog.set_level(logging.WARNING, logger="statemachine_engine.machine")
    async with STORES[kind](tmp_path) as store:
        await store.add_jobs(NewJob(f"job_{i:04d}", "drain") for i in range(jobs))
        async with open_runtime(store=store, publisher=recorder) as rt:
            worker = await rt.spawn(spec(WORKER), name="worker")
            assert await worker.wait_stopped() == "stopped"
        counts = await store.count_jobs()
    assert worker.state == "stopped"
    assert counts["completed"] == jobs
    assert worker.statistics().transitions == 3 * jobs + 1
    assert busy_reports(recorder, caplog) == []


async def test_a_loop_whose_actions_wait_on_the_clock_is_not_a_busy_loop(
    recorder: RecordingPublisher,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    caplog.set_level(logging.WARNING, logger="statemachine_engine.machine")
    async with open_runtime(publisher=recorder, actions=ACTIONS) as rt:
        looper = await rt.spawn(spec(LOOPER % {"action": "nap"}), name="looper")
        while looper.statistics().transitions < 5 * THRESHOLD:
            await trio.sleep(0.01)
        await looper.stop()
    assert busy_reports(recorder, caplog) == []


@pytest.mark.parametrize("action", ["yield", "step"])
async def test_a_loop_that_never_blocks_is_reported_once_checkpoints_or_not(
    action: str,
    recorder: RecordingPublisher,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    caplog.set_level(logging.WARNING, logger="statemachine_engine.machine")
    async with open_runtime(publisher=recorder, actions=ACTIONS) as rt:
        looper = await rt.spawn(spec(LOOPER % {"action": action}), name="looper")
        while looper.statistics().transitions < 5 * THRESHOLD:
            await trio.lowlevel.checkpoint()
        await looper.stop()
    assert busy_reports(recorder, caplog) == [
        f"machine 'looper' fired {THRESHOLD} transitions in a row without waiting for an "
        "event or a timer (now in 'pong'); it still yields to others"
    ]
