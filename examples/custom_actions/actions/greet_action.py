"""``greet``: say hello to the name in the received event's payload."""

from __future__ import annotations

from typing import Any

from statemachine_engine.actions import BaseAction


class GreetAction(BaseAction):
    """Greet ``payload.name`` of the event that entered the state.

    Keys (at the top level of the action or under ``params:``):
        greeting: the word to greet with; default ``Hello``.
        name: who to greet when the payload names nobody; default ``World``.
        success: event after greeting; default ``greeted``.

    Sets ``last_greeting`` in the context.
    """

    # for the linter: the events this action can return, and the keys it reads
    EVENTS = {"success": "greeted"}
    KEYS = ("greeting", "name")

    async def execute(self, context: dict[str, Any]) -> str | None:
        payload = (context.get("event_data") or {}).get("payload") or {}
        name = payload.get("name") or self.get_config_value("name", "World")
        greeting = self.get_config_value("greeting", "Hello")
        message = f"{greeting}, {name}!"
        context["last_greeting"] = message
        self.logger.info("[%s] %s", self.get_machine_name(context), message)
        self.host.log_activity(message)  # shown in the monitor's activity log
        return self.event("success", "greeted")
