"""``log`` and ``activity_log``: a line in the Python log and in the monitor's activity log."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import attrs
import trio

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import current_job_id

LOGGER_NAME = "statemachine_engine.actions.log"
_logger = logging.getLogger(LOGGER_NAME)

#: level name in YAML -> Python logging level (``success`` is an INFO line shown green)
LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "success": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class LogAction(BaseAction):
    """Write a message to the log and publish it as an ``activity_log`` event.

    Keys:
        message: the text (placeholders already filled in); default ``"No message"``.
        level: ``debug``, ``info``, ``warning``, ``error`` or ``success``; anything else is
            ``info``.
        success: event to dispatch afterwards; default none (the action list goes on).

    The Python log line is ``[<machine>] <message>`` on the ``statemachine_engine.actions.log``
    logger. A message repeated many times a second by one machine is summarised there (the
    first lines of each second, then one "repeated N times" line); the ``activity_log`` event
    is published every time.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": None}
    KEYS: ClassVar[tuple[str, ...]] = ("message", "level")

    #: the message when the action names none
    DEFAULT_MESSAGE: ClassVar[str] = "No message"

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        self._log(context)
        return self.event("success")

    def _log(self, context: dict[str, Any]) -> tuple[str, str]:
        """Write and publish the line; returns (message, level)."""
        message = _text(self.get_config_value("message", self.DEFAULT_MESSAGE))
        level = str(self.get_config_value("level", "info") or "info").strip().lower()
        if level not in LEVELS:
            level = "info"
        machine = self.get_machine_name(context)
        _write(machine, level, message)
        host = getattr(self, "host", None)
        if host is not None:
            job_id = current_job_id(context)
            fields = {"job_id": job_id} if job_id is not None else {}
            host.log_activity(message, level, **fields)
        return message, level


class ActivityLogAction(LogAction):
    """``log`` as the published package's ``activity_log`` does it: also a row in
    ``machine_events`` (target ``ui``, type ``activity_log``, payload ``{message, level,
    machine}``), and the ``continue`` event afterwards, so that configs written for it that
    follow it with ``{event: continue}`` transitions move on.

    Keys: as ``log``; ``message`` defaults to ``"Log message"``, ``success`` to ``continue``
    (in a state with no ``continue`` transition it is ignored and the next action runs).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "continue"}
    DEFAULT_MESSAGE: ClassVar[str] = "Log message"

    async def execute(self, context: dict[str, Any]) -> str | None:
        message, level = self._log(context)
        host = getattr(self, "host", None)
        store = host.store if host is not None else None
        if store is not None:
            machine = self.get_machine_name(context)
            job_id = current_job_id(context)
            store.event_sent(
                source_machine=machine,
                target_machine="ui",
                event_type="activity_log",
                payload={"message": message, "level": level, "machine": machine},
                job_id=str(job_id) if job_id is not None else None,
                status="delivered",
            )
        return self.event("success", "continue")


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _write(machine: str, level: str, message: str) -> None:
    python_level = LEVELS[level]
    if not _logger.isEnabledFor(python_level):
        return
    show, repeated, seconds = _guard().admit((machine, level, message), trio.current_time())
    if not show:
        return
    if repeated:
        _logger.log(
            python_level,
            "[%s] %s (repeated %d times in the last %.1f s)",
            machine,
            message,
            repeated,
            seconds,
        )
    else:
        _logger.log(python_level, "[%s] %s", machine, message)


@attrs.define
class _Seen:
    window_start: float
    shown: int = 1
    suppressed: int = 0


class FloodGuard:
    """Decides which repeats of one log line are written.

    Per key, the first ``burst`` occurrences of each ``interval`` are written; later ones are
    counted, and the first occurrence after the interval is written with that count. So a
    flood costs at most ``burst`` lines per interval. ``max_keys`` bounds the memory.
    """

    def __init__(self, *, interval: float = 1.0, burst: int = 5, max_keys: int = 1024) -> None:
        self.interval = interval
        self.burst = burst
        self.max_keys = max_keys
        self._seen: dict[tuple[str, str, str], _Seen] = {}

    def admit(self, key: tuple[str, str, str], now: float) -> tuple[bool, int, float]:
        """``(write it, repeats to report with it, over how many seconds)``."""
        seen = self._seen.get(key)
        if seen is None or now - seen.window_start >= self.interval:
            self._seen.pop(key, None)
            self._seen[key] = _Seen(now)
            if len(self._seen) > self.max_keys:
                del self._seen[next(iter(self._seen))]  # the least recently renewed
            if seen is not None and seen.suppressed:
                # this line stands for the suppressed ones and itself
                return True, seen.suppressed + 1, now - seen.window_start
            return True, 0, 0.0
        if seen.shown < self.burst:
            seen.shown += 1
            return True, 0, 0.0
        seen.suppressed += 1
        return False, 0, 0.0


# one guard per trio run: trio.current_time() of different runs cannot be compared
_GUARD: trio.lowlevel.RunVar[FloodGuard] = trio.lowlevel.RunVar("statemachine_log_flood_guard")


def _guard() -> FloodGuard:
    try:
        return _GUARD.get()
    except LookupError:
        guard = FloodGuard()
        _GUARD.set(guard)
        return guard
