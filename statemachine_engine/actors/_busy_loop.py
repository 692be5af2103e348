"""Telling a busy loop from a machine whose actions wait: did the machine's task block?

A machine that fires internal transitions (events its own actions return) without waiting on
its mailbox or its timer may be spinning -- a polling loop without a timeout -- or may be
doing real work whose actions wait on something else: a worker draining a backlog waits on
the store for its claims. Only the first is a busy loop. Trio does not say whether an await
blocked, but its run loop goes in rounds (a *batch*: every runnable task takes one step, then
the loop looks at I/O), and a task that only passes a schedule point (``sleep(0)``, the
machine's own yield) is runnable again in the very next round. A task that skipped a round
was blocked: it waited for another task, a thread, I/O or the clock.

A machine half way to the busy-loop threshold becomes a suspect; the first time its task
skips a round (or the loop has nothing at all to run), its run starts again (``cleared``).
The watch is a trio instrument added only while there are suspects, so a machine's step
pays nothing for it in the common case.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

_WATCH: trio.lowlevel.RunVar[BlockWatch] = trio.lowlevel.RunVar("statemachine_engine.busy_watch")


@attrs.define(slots=True)
class _Suspect:
    cleared: Callable[[], None]
    last_round: int = -1  # the round its task last took a step in (-1: none yet)


class BlockWatch(trio.abc.Instrument):
    """Calls a suspect's ``cleared`` once its task has been blocked."""

    def __init__(self) -> None:
        self._suspects: dict[trio.lowlevel.Task, _Suspect] = {}
        self._round = 0

    def suspect(self, task: trio.lowlevel.Task, cleared: Callable[[], None]) -> None:
        if not self._suspects:
            trio.lowlevel.add_instrument(self)
        self._suspects[task] = _Suspect(cleared)

    def forget(self, task: trio.lowlevel.Task) -> None:
        if self._suspects.pop(task, None) is not None and not self._suspects:
            trio.lowlevel.remove_instrument(self)

    def before_io_wait(self, timeout: float) -> None:
        self._round += 1
        # (``timeout`` is no sign of idleness: under an autojump clock it is 0 either way)
        if not trio.lowlevel.current_statistics().tasks_runnable:
            for task in list(self._suspects):
                self._blocked(task)  # nothing runnable: every suspect is blocked

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        suspect = self._suspects.get(task)
        if suspect is None:
            return
        last = suspect.last_round
        suspect.last_round = self._round
        if last != -1 and self._round - last > 1:  # it skipped a round: it was blocked
            self._blocked(task)

    def _blocked(self, task: trio.lowlevel.Task) -> None:
        cleared = self._suspects[task].cleared
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
