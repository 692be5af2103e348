"""``pop_from_list``: take the first item off a list in the machine's context."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import fail


class PopFromListAction(BaseAction):
    """Remove the first item of ``context[list_key]`` (a queue: first in, first out).

    Keys:
        list_key: the context key of the list; default ``items``.
        store_as: context key that receives the item; default none (the item is dropped).
        success: event when an item was taken; default ``item_popped``.
        empty: event when the list is empty or missing; default ``list_empty``
            (``store_as`` is left as it was).
        error: event when ``context[list_key]`` is not a list; default ``error``
            (the published package answered ``empty`` here, hiding the mistake).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "item_popped",
        "empty": "list_empty",
        "error": "error",
    }
    KEYS: ClassVar[tuple[str, ...]] = ("list_key", "store_as")
    #: durable machines: it changes only the context, which a resumed machine gets back
    #: as checkpointed, so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        list_key = str(self.get_config_value("list_key", "items") or "items")
        current = context.get(list_key)
        if current is None or (isinstance(current, list) and not current):
            return self.event("empty", "list_empty")
        if not isinstance(current, list):
            return fail(
                self,
                context,
                f"cannot pop from {list_key!r}: it holds a {type(current).__name__}, not a list",
            )
        item = current.pop(0)
        store_as = self.get_config_value("store_as")
        if store_as not in (None, ""):
            context[str(store_as)] = item
        return self.event("success", "item_popped")
