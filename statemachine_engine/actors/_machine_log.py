"""How a machine's transitions and dropped events reach the log, thinned so loops don't flood it."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from statemachine_engine._thinning import LOG_EVERY, worth_logging

if TYPE_CHECKING:
    from statemachine_engine.actions import ActionHost

logger = logging.getLogger("statemachine_engine.machine")

#: a transition is logged (INFO) its first _LOG_FIRST times, then every LOG_EVERY-th time
_LOG_FIRST = 10


class TransitionLog:
    """Counts each (source, event, target) of one machine and logs the ones worth it."""

    __slots__ = ("_counts", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._counts: dict[tuple[str, str, str], int] = {}

    def log(self, source: str, event: str, target: str) -> None:
        counts = self._counts
        key = (source, event, target)
        n = counts.get(key, 0) + 1
        counts[key] = n
        # the first few of each transition, then every 1000th: a polling loop does not flood
        # the log, and the line that starts the thinning says so (the machine is not stuck)
        if not worth_logging(n, first=_LOG_FIRST):
            return
        name = self._name
        if n < _LOG_FIRST:
            logger.info("[%s] %s --%s--> %s", name, source, event, target)
        elif n == _LOG_FIRST:
            logger.info(
                "[%s] %s --%s--> %s (#%d; from now on only every %dth of this transition "
                "is logged)",
                name,
                source,
                event,
                target,
                n,
                LOG_EVERY,
            )
        else:
            logger.info("[%s] %s --%s--> %s (#%d)", name, source, event, target, n)


def log_held_dropped(name: str, count: int, event: str, capacity: int) -> None:
    """The held queue was full and dropped its oldest event (``count`` so far)."""
    if worth_logging(count):
        logger.warning(
            "[%s] %d event(s) dropped so far, the oldest first (latest %r): they fired "
            "nothing in the states the machine was in, and it has not been idle to look at "
            "them again while %d more waited",
            name,
            count,
            event,
            capacity,
        )


def report_busy_loop(name: str, state: str, threshold: int, host: ActionHost) -> None:
    """A machine fired ``threshold`` transitions in a row without waiting: say so once."""
    message = (
        f"machine {name!r} fired {threshold} transitions in a row without waiting for an "
        f"event or a timer (now in {state!r}); it still yields to others"
    )
    logger.warning("%s", message)
    host.log_activity(message, "warning")


def log_unhandled(name: str, event: str, state: str, count: int) -> bool:
    """Log the ``count``-th event of a machine that fired nothing (thinned as transitions
    are); returns whether it was worth logging."""
    if not worth_logging(count, first=10):
        return False
    logger.info(
        "[%s] event %r fired nothing in state %r; dropped (%d so far%s)",
        name,
        event,
        state,
        count,
        "; from now on every 1000th is logged" if count == 10 else "",
    )
    return True
