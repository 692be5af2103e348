"""Helpers the built-in actions share: bool-like flags, job ids, placeholders, failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.config import placeholders, resolve_path
from statemachine_engine.fsm import record_failure

_TRUE = frozenset({"true", "yes", "on", "y", "1"})
_FALSE = frozenset({"false", "no", "off", "n", "0", "", "none", "null"})


def as_bool(value: Any, *, key: str) -> bool:
    """A YAML flag that may arrive as a bool, a number or a string (``"false"`` is false).

    Raises ValueError naming ``key`` for anything else, so a typo is not read as "yes".
    """
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"{key}: expected true or false, got {value!r}")


def current_job_id(context: Mapping[str, Any]) -> str | None:
    """The job the machine works on: ``job_id``, else ``current_job.job_id``/``.id``."""
    value = context.get("job_id")
    if value not in (None, ""):
        return str(value)
    if "current_job" not in context:
        return None  # no path to resolve (most machines, on every send_event)
    for path in ("current_job.job_id", "current_job.id"):
        value = resolve_path(context, path)
        if value not in (None, ""):
            return str(value)
    return None


def unresolved(value: Any, context: Mapping[str, Any]) -> list[str]:
    """Placeholder names still written in ``value`` that the context cannot resolve.

    The runtime interpolates every action value first and leaves unknown placeholders as
    written, so what is left here is a ``{name}`` the context does not have.
    """
    names = (name for name in placeholders(value) if resolve_path(context, name) is None)
    return list(dict.fromkeys(names))


def fail(
    action: BaseAction, context: dict[str, Any], message: str, *, action_type: str | None = None
) -> str | None:
    """Report an expected failure: set ``last_error``/``last_error_action``, log it, record
    it in the error history (published as an ``error`` event), and return the action's
    ``error`` event (default ``error``). ``action_type`` names the action (default: its
    ``type`` key, else its class name)."""
    action_type = action_type or str(action.config.get("type") or type(action).__name__)
    action.logger.warning("[%s] %s: %s", action.get_machine_name(context), action_type, message)
    host = getattr(action, "host", None)
    record_failure(context, action_type, message, host.report_error if host is not None else None)
    return action.event("error", "error")
