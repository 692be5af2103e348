"""Telling a busy loop from a machine whose actions wait: did the machine's task block?

A machine that fires internal transitions (events its own actions return) without waiting on
its mailbox or its timer may be spinning -- a polling loop without a timeout -- or may be
doing real work whose actions wait on something else: a worker draining a backlog waits on
the store for its claims. Only the first is a busy loop. Trio does not say whether an await
blocked, but it does say who made a task runnable again (the ``task_scheduled`` hook): a
task that only passed a schedule point (``sleep(0)``, the machine's own yield) reschedules
itself, while a task that waited was woken by another task (the store's writer setting the
event it waits on, a thread's result handed over by trio's system task) or by the run loop
itself (I/O, the clock). Counting skipped rounds of the run loop instead misses the first
case: a write the store commits on the trio thread wakes its waiter in the very next round.

A machine half way to the busy-loop threshold becomes a suspect; the first time its task is
woken by anything but itself, its run starts again (``cleared``). The watch is a trio
instrument added only while there are suspects, so a machine's step pays nothing for it in
the common case.
"""

from __future__ import annotations

from collections.abc import Callable

import trio

_WATCH: trio.lowlevel.RunVar[BlockWatch] = trio.lowlevel.RunVar("statemachine_engine.busy_watch")


class BlockWatch(trio.abc.Instrument):
    """Calls a suspect's ``cleared`` once its task has been blocked."""

    def __init__(self) -> None:
        self._suspects: dict[trio.lowlevel.Task, Callable[[], None]] = {}

    def suspect(self, task: trio.lowlevel.Task, cleared: Callable[[], None]) -> None:
        if not self._suspects:
            trio.lowlevel.add_instrument(self)
        self._suspects[task] = cleared

    def forget(self, task: trio.lowlevel.Task) -> None:
        if self._suspects.pop(task, None) is not None and not self._suspects:
            trio.lowlevel.remove_instrument(self)

    def task_scheduled(self, task: trio.lowlevel.Task) -> None:
        if task not in self._suspects:
            return
        try:
            waker = trio.lowlevel.current_task()
        except RuntimeError:  # the run loop itself: I/O or the clock woke it
            waker = None
        if waker is not task:  # woken by another task or the loop: it was blocked
            cleared = self._suspects[task]
            self.forget(task)
            cleared()


def _watch() -> BlockWatch:
    try:
        return _WATCH.get()
    except LookupError:
        watch = BlockWatch()
        _WATCH.set(watch)
        return watch


def suspect_busy_loop(task: trio.lowlevel.Task, cleared: Callable[[], None]) -> None:
    """Call ``cleared`` the first time ``task`` is blocked from now on."""
    _watch().suspect(task, cleared)


def forget_busy_loop(task: trio.lowlevel.Task) -> None:
    """Stop watching ``task`` (reported, or stopped)."""
    _watch().forget(task)
