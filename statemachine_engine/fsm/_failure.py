"""The one rule for a failed action: what the context says about it, and that it is reported."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any


def record_failure(
    context: MutableMapping[str, Any],
    action: str,
    message: str,
    report: Callable[[str, str], None] | None,
) -> None:
    """Mark ``action`` failed with ``message``: set ``last_error`` and ``last_error_action``
    in the machine's context, then ``report(action, message)`` (the error history and the
    monitor's ``error`` event). ``report`` is None for an action run outside a machine.

    Every failure goes through here: an action that raises, one that reports a failure it
    handled itself (a command's non-zero exit), and a child process that could not start.
    """
    context["last_error"] = message
    context["last_error_action"] = action
    if report is not None:
        report(action, message)
