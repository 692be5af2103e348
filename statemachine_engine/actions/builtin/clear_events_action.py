"""``clear_events``: mark a machine's pending audited events processed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import no_store, store_of, string_list
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError


class ClearEventsAction(BaseAction):
    """Mark pending rows of the ``machine_events`` audit table processed.

    Keys:
        target_machine: whose events; default this machine.
        event_types: one type or a list; default every type.
        success: event when at least one row was marked; default ``events_cleared``. As in
            the published package, a ``success`` key names the event for both outcomes.
        empty: event when there was nothing to mark; default ``no_events_to_clear``.
        error: event when the store failed; default ``error``.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "events_cleared",
        "empty": "no_events_to_clear",
        "error": "error",
    }
    KEYS: ClassVar[tuple[str, ...]] = ("target_machine", "event_types")

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        target = self.get_config_value("target_machine") or self.host.machine_name
        types = string_list(self.get_config_value("event_types"))
        try:
            count = await store.mark_events_processed(
                target_machine=str(target), event_types=types or None
            )
        except StoreError as exc:
            return fail(self, context, f"could not clear the events of {target}: {exc}")
        context["cleared_events"] = count
        success = self.event("success")
        if count:
            return success or "events_cleared"
        return success or self.event("empty", "no_events_to_clear")
