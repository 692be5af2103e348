"""Running a coroutine without a cancel scope until it blocks, and on inside one after.

Entering and leaving a trio cancel scope costs about 48,000 instructions, as much as half of
a machine's transition, and most entry actions never reach a schedule point: a cancel scope
around them can never cancel anything. So a machine starts each action's coroutine by hand
(:func:`start`); only one that blocks gets the state's scope, entered before trio sees the
block, and is carried on inside it (:func:`carry_on`) as if it had been awaited there from
the start. Trio delivers a cancellation at the point where a task blocks, by the cancel
status the task has then, so the action is cancelled by the scope exactly as before.

Between :func:`start` and :func:`carry_on` the task must run nothing that could wake it: the
coroutine has registered it with whatever it waits on (a parking lot, a channel), but trio
does not know yet that it blocked. Entering and cancelling a cancel scope is safe.
"""

from __future__ import annotations

import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

import trio

T = TypeVar("T")


class Blocked:
    """A coroutine that reached a schedule point: what it yielded to trio, to pass on, and
    whether it blocked inside a cancel scope (or nursery) of its own, around which no scope
    can be entered any more (``scoped``)."""

    __slots__ = ("coro", "scoped", "trap")

    def __init__(self, coro: Coroutine[Any, Any, Any], trap: object, scoped: bool) -> None:
        self.coro = coro
        self.trap = trap
        self.scoped = scoped


def start(coro: Coroutine[Any, Any, T], task: trio.lowlevel.Task | None) -> T | Blocked:
    """Run ``coro`` in ``task`` (the current one) until it returns (its result) or blocks
    (a :class:`Blocked` to carry on with :func:`carry_on`). Its exceptions propagate."""
    # Trio keeps no public record of a task's open cancel scopes; its private one tells
    # whether the coroutine left one open. (Without it, a trio that renamed it: never.)
    status = getattr(task, "_cancel_status", None)
    try:
        trap = coro.send(None)
    except StopIteration as stop:
        result: T = stop.value
        return result
    return Blocked(coro, trap, getattr(task, "_cancel_status", None) is not status)


@types.coroutine
def carry_on(blocked: Blocked) -> Generator[Any, Any, Any]:
    """Await the rest of a coroutine that :func:`start` left blocked: its first yield goes
    to trio now, from the awaiting task and under its cancel scopes."""
    coro, message = blocked.coro, blocked.trap
    while True:
        try:
            sent = yield message
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # trio throws only to recover a foreign await
            try:
                message = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                message = coro.send(sent)
            except StopIteration as stop:
                return stop.value
