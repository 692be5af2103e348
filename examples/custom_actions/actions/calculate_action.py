"""``calculate``: ``a <operation> b`` with the numbers from the received event's payload."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from statemachine_engine.actions import BaseAction

OPERATIONS: dict[str, tuple[str, Callable[[float, float], float]]] = {
    "add": ("+", operator.add),
    "subtract": ("-", operator.sub),
    "multiply": ("*", operator.mul),
    "divide": ("/", operator.truediv),
}


class CalculateAction(BaseAction):
    """Compute ``payload.a <operation> payload.b`` and store it as ``calculation_result``.

    Keys (at the top level of the action or under ``params:``):
        operation: add, subtract, multiply or divide; default the payload's
            ``operation``, else ``add``.
        precision: decimal places the result is rounded to; default 2.
        success: event after calculating; default ``calculated``.
        error: event when the payload is not a valid calculation; default ``error``.

    A bad payload (a missing or non-numeric operand, an unknown operation, a division by
    zero) raises ValueError: the runtime turns that into the ``error`` event and puts the
    message in ``last_error``.
    """

    EVENTS = {"success": "calculated", "error": "error"}
    KEYS = ("operation", "precision")

    async def execute(self, context: dict[str, Any]) -> str | None:
        payload = (context.get("event_data") or {}).get("payload") or {}
        name = self.get_config_value("operation") or payload.get("operation") or "add"
        if name not in OPERATIONS:
            raise ValueError(
                f"calculate: unknown operation {name!r}; use one of {', '.join(OPERATIONS)}"
            )
        symbol, function = OPERATIONS[name]
        a, b = _number(payload, "a"), _number(payload, "b")
        if name == "divide" and b == 0:
            raise ValueError("calculate: cannot divide by zero")
        result = round(function(a, b), int(self.get_config_value("precision", 2)))
        if result == int(result):
            result = int(result)
        context["calculation_result"] = result
        self.host.log_activity(f"{_show(a)} {symbol} {_show(b)} = {result}")
        return self.event("success", "calculated")


def _number(payload: dict[str, Any], key: str) -> float:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"calculate: payload.{key} must be a number, got {value!r}")
    return float(value)


def _show(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
