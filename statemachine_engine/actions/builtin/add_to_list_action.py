"""``add_to_list``: append a value to a list in the machine's context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import fail, unresolved

_ABSENT = object()


class AddToListAction(BaseAction):
    """Append ``value`` to ``context[list_key]``, creating the list when it is missing.

    Keys:
        list_key: the context key of the list; default ``items``.
        value: what to append (required; keeps its type, so a placeholder naming a dict
            appends the dict). An unresolved placeholder is appended as written, with a
            warning.
        success: event on success; default ``success``.
        error: event when ``context[list_key]`` holds something that is not a list; default
            ``error`` (``last_error`` says what was found).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "success", "error": "error"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("value",)
    KEYS: ClassVar[tuple[str, ...]] = ("list_key", "value")
    #: durable machines: it changes only the context, which a resumed machine gets back
    #: as checkpointed, so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        list_key = str(self.get_config_value("list_key", "items") or "items")
        value = self.get_config_value("value", _ABSENT)
        if value is _ABSENT:
            raise ValueError("add_to_list: the 'value' setting is required (what to append)")
        missing = unresolved(value, context)
        if missing:
            self.logger.warning(
                "[%s] add_to_list: placeholder(s) not found in the context, appended as "
                "written: %s",
                self.get_machine_name(context),
                ", ".join(missing),
            )
        current = context.get(list_key)
        if current is None:
            context[list_key] = current = []
        elif not isinstance(current, list):
            return fail(
                self,
                context,
                f"cannot add to {list_key!r}: it holds a {type(current).__name__}, not a list",
            )
        current.append(value)
        return self.event("success", "success")
