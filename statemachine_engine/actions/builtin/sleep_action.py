"""``sleep``: wait, then dispatch an event."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import trio

from statemachine_engine.actions._base import BaseAction


def _duration(action: BaseAction) -> float:
    return seconds(action.get_config_value("duration", 1))


class SleepAction(BaseAction):
    """Wait ``duration`` seconds, then dispatch ``success``.

    Keys:
        duration: seconds, decimals allowed (``0.25``, ``"2"``); default 1. Anything that is
            not a non-negative number is an error naming the value.
        success: event after the wait; default ``wake_up``.

    The wait is trio's: it ends early, without an event, when the machine leaves the state,
    and it runs in virtual time under a mock clock.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "wake_up"}
    KEYS: ClassVar[tuple[str, ...]] = ("duration",)
    CHECKS: ClassVar[Mapping[str, Callable[[Any], object]]] = {"duration": _duration}

    async def execute(self, context: dict[str, Any]) -> str | None:
        await trio.sleep(_duration(self))
        return self.event("success", "wake_up")


def seconds(value: Any) -> float:
    """``duration`` as float seconds; ValueError naming the value when it is not one."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or math.isnan(number) or number < 0:
        raise ValueError(f"sleep: duration must be a number of seconds (0 or more), got {value!r}")
    return number
