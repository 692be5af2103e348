"""The ``sleep`` action, in virtual time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from statemachine_engine.actions.builtin.sleep_action import seconds

if TYPE_CHECKING:
    from conftest import RunAction


@pytest.mark.parametrize(
    ("duration", "expected"), [(2, 2.0), (0.25, 0.25), ("1.5", 1.5), (" 3 ", 3.0), (0, 0.0)]
)
async def test_sleeps_duration_then_wakes_up(
    run_action: RunAction,
    autojump_clock: trio.testing.MockClock,
    duration: Any,
    expected: float,
) -> None:
    start = trio.current_time()
    assert await run_action({"type": "sleep", "duration": duration}) == "wake_up"
    assert trio.current_time() - start == expected


async def test_default_duration_is_one_second(
    run_action: RunAction, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    assert await run_action({"type": "sleep"}) == "wake_up"
    assert trio.current_time() - start == 1.0


async def test_custom_event_and_params_form(
    run_action: RunAction, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    config = {"type": "sleep", "params": {"duration": "{delay}", "success": "rested"}}
    assert await run_action(config, {"delay": 4}) == "rested"
    assert trio.current_time() - start == 4.0


@pytest.mark.parametrize("duration", ["soon", None, True, -1, "nan", [1], "{delay}"])
async def test_bad_duration_raises_naming_the_value(run_action: RunAction, duration: Any) -> None:
    with pytest.raises(ValueError) as info:
        await run_action({"type": "sleep", "duration": duration})
    assert str(info.value) == (
        f"sleep: duration must be a number of seconds (0 or more), got {duration!r}"
    )


async def test_cancelled_with_its_scope(
    run_action: RunAction, autojump_clock: trio.testing.MockClock
) -> None:
    start = trio.current_time()
    with trio.move_on_after(0.5) as scope:
        await run_action({"type": "sleep", "duration": 10})
    assert scope.cancelled_caught
    assert trio.current_time() - start == 0.5


def test_seconds_accepts_infinity() -> None:
    assert seconds("inf") == float("inf")
