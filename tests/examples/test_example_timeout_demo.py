"""examples/timeout_demo: the published timings through ``statemachine simulate`` (virtual
time, exact trace), and a copy with every duration divided by five as a real process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from example_support import EventTap, Example

pytestmark = pytest.mark.slow

CONFIG = "config/timeout_worker.yaml"
SCALE = 5  # the real-process test divides every duration by this


def t(at: float, src: str, event: str, dst: str) -> dict[str, object]:
    return {"t": at, "machine": "timeout_worker", "from": src, "to": dst, "event": event}


async def test_simulated_trace_with_the_published_timings(
    example: Callable[[str], Example],
) -> None:
    ex = example("timeout_demo")
    out = await ex.run(
        "statemachine", "simulate", CONFIG, "--events", "events.yaml", "--format", "json"
    )
    trace = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert trace == [
        t(0.0, "initializing", "initialized", "waiting"),
        t(5.0, "waiting", "timeout(5)", "timed_out"),  # no work within 5 s
        t(8.0, "timed_out", "retry", "waiting"),  # 3 s back-off, then bash says retry
        t(12.0, "waiting", "start_work", "processing"),  # cancels the deadline at 13
        t(22.0, "processing", "timeout(10)", "timed_out"),  # no work_done within 10 s
        t(25.0, "timed_out", "retry", "waiting"),
        t(27.0, "waiting", "start_work", "processing"),
        t(28.0, "processing", "work_done", "completed"),  # cancels the deadline at 37
        {"t": 28.0, "machine": "timeout_worker", "final_state": "completed"},
    ]


def faster(text: str) -> str:
    """The config with every timeout and the back-off divided by SCALE."""
    text = re.sub(r"timeout\((\d+)\)", lambda m: f"timeout({int(m[1]) / SCALE:g})", text)
    return re.sub(r"duration: (\d+)", lambda m: f"duration: {int(m[1]) / SCALE:g}", text)


async def test_real_process_times_out_retries_and_is_cancelled(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("timeout_demo")
    config = ex.root / CONFIG
    config.write_text(faster(config.read_text()))
    assert "timeout(1)" in config.read_text() and "timeout(2)" in config.read_text()
    worker = await ex.start("statemachine", CONFIG, *ex.socket_flags(), log="timeout_worker")

    # nobody sends work: the 1 s watchdog fires, the worker backs off and retries
    entered = await events.wait_state("timeout_worker", "waiting")
    fired = await events.wait_state("timeout_worker", "timed_out")
    assert fired.payload["event_trigger"] == "timeout(1)"
    assert 0.9 <= fired.timestamp - entered.timestamp < 5
    retried = await events.wait_state("timeout_worker", "waiting", after=events.events.index(fired))
    assert retried.payload["event_trigger"] == "retry"
    assert retried.timestamp - fired.timestamp >= 0.55  # the 0.6 s back-off

    # start_work leaves waiting (cancelling its deadline); no work_done: the 2 s one fires
    mark = len(events.events)
    await ex.send("timeout_worker", "start_work")
    started = await events.wait_state("timeout_worker", "processing", after=mark)
    fired = await events.wait_state(
        "timeout_worker", "timed_out", after=events.events.index(started)
    )
    assert (fired.payload["from_state"], fired.payload["event_trigger"]) == (
        "processing",
        "timeout(2)",
    )
    assert 1.9 <= fired.timestamp - started.timestamp < 6

    # work_done in time: the worker completes and exits 0, no deadline fires after it
    await events.wait_state("timeout_worker", "waiting", after=events.events.index(fired))
    mark = len(events.events)
    await ex.send("timeout_worker", "start_work")
    await events.wait_state("timeout_worker", "processing", after=mark)
    await ex.send("timeout_worker", "work_done")
    assert await ex.wait_exit(worker) == 0
    await events.wait_terminated("timeout_worker")
    done = await events.wait_state("timeout_worker", "completed", after=mark)
    assert done.payload["event_trigger"] == "work_done"
    assert [e.payload["to_state"] for e in events.of("timeout_worker", "state_change")][-2:] == [
        "processing",
        "completed",
    ]
    assert "TIMEOUT! Operation took too long; retrying in 3 s" in events.activity("timeout_worker")
