"""examples/custom_actions: two custom actions and a custom ``log`` that replaces the
built-in one, loaded with ``--actions-dir ./actions``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from example_support import EventTap, Example

pytestmark = pytest.mark.slow

MACHINE = "custom_worker"
READY = "[waiting] Ready for greet or calculate"


async def ready(events: EventTap, *, after: int) -> None:
    """Wait for the log of the waiting state (from event number ``after`` on)."""
    await events.wait_for(
        lambda e: e.type == "activity_log" and e.payload["message"] == READY,
        what="the worker ready in waiting",
        after=after,
    )


async def test_custom_actions_and_overridden_log(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("custom_actions")
    worker = await ex.start(
        "statemachine",
        "config/custom_worker.yaml",
        "--actions-dir",
        "./actions",
        *ex.socket_flags(),
        log=MACHINE,
    )
    await ex.wait_registered(MACHINE)

    # one event at a time, as a user types them: each waits until the worker is back in
    # waiting (an event that fires from the current state would cancel what runs there)
    mark = 0
    for event, payload in [
        ("greet", {"name": "Alice"}),
        ("calculate", {"a": 6, "b": 7, "operation": "multiply"}),
        ("calculate", {"a": 1, "b": 3, "operation": "divide"}),
        ("calculate", {"a": 1, "b": 0, "operation": "divide"}),
    ]:
        await ready(events, after=mark)  # back in waiting after the previous step
        mark = len(events.events)
        await ex.send(MACHINE, event, payload)
    await ready(events, after=mark)
    await ex.send(MACHINE, "stop")
    assert await ex.wait_exit(worker) == 0
    await events.wait_terminated(MACHINE)

    assert events.transitions(MACHINE) == [
        ("waiting", "greet", "greeting"),
        ("greeting", "greeted", "waiting"),  # greet's success, read from params:
        ("waiting", "calculate", "calculating"),
        ("calculating", "calculated", "waiting"),
        ("waiting", "calculate", "calculating"),
        ("calculating", "calculated", "waiting"),
        ("waiting", "calculate", "calculating"),
        ("calculating", "error", "waiting"),  # the ValueError became the error event
        ("waiting", "stop", "stopped"),
    ]
    failed = (
        "[calculating] Calculation failed: action 'calculate' failed: ValueError: "
        "calculate: cannot divide by zero"
    )
    assert events.activity(MACHINE) == [
        READY,
        "Hello, Alice!",
        READY,
        "6 * 7 = 42",
        READY,
        "1 / 3 = 0.333",  # precision: 3, a top-level key
        READY,
        failed,
        READY,
        "[stopped] Stopped; last result: 0.333",
    ]
    # the overriding log action also appended every message to ./activity.log
    lines = (ex.root / "activity.log").read_text().splitlines()
    assert [line.split(" ", 3)[3] for line in lines] == [
        "INFO " + READY,
        "INFO " + READY,
        "INFO " + READY,
        "INFO " + READY,
        "ERROR " + failed,
        "INFO " + READY,
        "INFO [stopped] Stopped; last result: 0.333",
    ]


async def test_without_the_actions_folder_the_config_is_refused(
    example: Callable[[str], Example],
) -> None:
    ex = example("custom_actions")
    result = await ex.run(
        "statemachine", "config/custom_worker.yaml", *ex.socket_flags(), check=False
    )
    assert result.returncode == 1
    message = result.stderr.decode()
    assert "greet" in message and "calculate" in message
    assert "Traceback" not in message
