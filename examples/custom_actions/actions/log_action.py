"""``log``, overridden: this folder's version replaces the built-in one for machines run with
``--actions-dir ./actions``."""

from __future__ import annotations

import time
from typing import Any

import trio

from statemachine_engine.actions import BaseAction


class LogAction(BaseAction):
    """Log a message, tagged with the state it was logged in, and append it to a file.

    Keys (at the top level of the action or under ``params:``):
        message: the text; default ``"No message"``.
        level: debug, info, warning or error; default ``info``.
        file: the file each line is appended to; default ``activity.log`` (in the working
            directory).
        success: event after logging; default none (the action list goes on).
    """

    EVENTS = {"success": None}
    KEYS = ("message", "level", "file")

    async def execute(self, context: dict[str, Any]) -> str | None:
        machine = self.get_machine_name(context)
        state = context.get("current_state", "?")
        level = str(self.get_config_value("level", "info")).lower()
        message = f"[{state}] {self.get_config_value('message', 'No message')}"
        self.logger.log(_LEVELS.get(level, 20), "[%s] %s", machine, message)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        line = f"{stamp} {machine} {level.upper()} {message}\n"
        path = str(self.get_config_value("file", "activity.log"))
        # An event that leaves the state cancels its running actions; shielded, a line that
        # was started is always written whole.
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(_append, path, line)
        self.host.log_activity(message, level)
        return self.event("success")


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
