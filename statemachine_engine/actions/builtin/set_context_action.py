"""``set_context``: store a value in the machine's context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction

_ABSENT = object()


class SetContextAction(BaseAction):
    """Set ``context[key] = value``, replacing what was there.

    Keys:
        key: the context key to set (required).
        value: the value (required; may be null, ``[]``, ``0`` or a whole mapping; a value that
            is exactly one placeholder such as ``"{event_data.payload}"`` keeps its type).
        success: event to dispatch afterwards; default ``success``.

    A missing ``key`` or ``value`` is an error (``last_error`` is set and the ``error`` event
    dispatched).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "success"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("key", "value")
    KEYS: ClassVar[tuple[str, ...]] = ("key", "value")
    #: durable machines: it changes only the context, which a resumed machine gets back
    #: as checkpointed, so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        key = self.get_config_value("key")
        if key in (None, ""):
            raise ValueError("set_context: the 'key' setting is required (the context key to set)")
        value = self.get_config_value("value", _ABSENT)
        if value is _ABSENT:
            raise ValueError(
                f"set_context: the 'value' setting is required (write 'value: null' to store "
                f"null in {key!r})"
            )
        context[str(key)] = value
        return self.event("success", "success")
