"""Folds of the pure rules over a script of inputs: the traces a running machine must give.

:func:`run_events` folds external events through the step function (a machine without
actions). :func:`run_script` folds a script of external events and *releases* through the
disposition rules, for a machine whose entry actions return events and may block until
released: it models the held queue, the mailbox and run-to-completion, and is what the
actor's trace is checked against (tests/actors/test_actor_property.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import attrs

from statemachine_engine.config import Transition
from statemachine_engine.fsm._disposition import (
    IGNORE,
    Disposition,
    HeldQueue,
    dispose,
    dispose_returned,
)
from statemachine_engine.fsm._table import Table

Step = tuple[str, str, str]  # (from, event, to)


def run_events(table: Table, state: str, events: Iterable[str]) -> list[Step]:
    """Fold ``events`` through the step function: the ``(from, event, to)`` of each that fired.

    Stops after a final state is entered. This is the trace a machine without actions must
    produce for the same events.
    """
    trace: list[Step] = []
    for event in events:
        if table.is_final(state):
            break
        target = table.step(state, event)
        if target is not None:
            trace.append((state, event, target))
            state = target
    return trace


class Release:
    """The script input that lets the blocking action running now return."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RELEASE"


RELEASE = Release()


@attrs.frozen
class ScriptedAction:
    """An entry action of the model: returns ``event`` (or nothing); with ``blocks`` it
    first waits for a RELEASE, and is cancelled there by an event that fires."""

    event: str | None = None
    blocks: bool = False


@attrs.frozen
class ScriptRun:
    trace: tuple[Step, ...]
    dropped: int  # events that fired nothing in an idle machine, or pushed out of the held queue
    ignored: int  # events returned by actions that fired nothing
    refused: int  # events sent while the mailbox was full (the sender got MailboxFull)
    busy_loop: bool  # the machine fired transitions for ever without waiting: run cut short


_Fire = tuple[Transition, str, bool]  # (transition, event, from the mailbox?)


def run_script(
    table: Table,
    initial: str,
    actions: Mapping[str, Sequence[ScriptedAction]],
    inputs: Iterable[str | Release],
    *,
    capacity: int,
    busy_limit: int = 50,
) -> ScriptRun:
    """Fold ``inputs`` (event names sent with ``send_nowait`` one at a time once the machine
    waits, and RELEASE) through the disposition rules, from ``initial``.

    ``capacity`` is the mailbox's (and the held queue's) size. A machine that fires more than
    ``busy_limit`` transitions in a row from its actions' events never waits again: the run
    stops there with ``busy_loop`` set.
    """
    model = _Model(table, actions, capacity, busy_limit)
    model.settle(model.enter(initial))
    for item in inputs:
        if model.stopped:
            break
        if isinstance(item, Release):
            model.release()
        else:
            model.arrive(item)
    return ScriptRun(
        trace=tuple(model.trace),
        dropped=model.dropped,
        ignored=model.ignored,
        refused=model.refused,
        busy_loop=model.busy_loop,
    )


class _Model:
    """The machine as the rules see it: state, mailbox, held queue, the blocked action."""

    def __init__(
        self,
        table: Table,
        actions: Mapping[str, Sequence[ScriptedAction]],
        capacity: int,
        busy_limit: int,
    ) -> None:
        self.table = table
        self.actions = actions
        self.capacity = capacity
        self.busy_limit = busy_limit
        self.state = ""
        self.mailbox: deque[str] = deque()
        self.held: HeldQueue[str] = HeldQueue(capacity)
        self.blocked_at: int | None = None  # index of the entry action waiting for RELEASE
        self.interrupted = False
        self.stopped = False
        self.busy_loop = False
        self.internal_run = 0
        self.trace: list[Step] = []
        self.dropped = self.ignored = self.refused = 0

    # -- inputs --------------------------------------------------------------------------

    def arrive(self, event: str) -> None:
        if self.blocked_at is None:  # idle: the machine takes it from the mailbox at once
            self.settle(self._from_mailbox(event, busy=False))
            return
        if len(self.mailbox) >= self.capacity:
            self.refused += 1
            return
        self.mailbox.append(event)
        if not self.interrupted and self.table.select(self.state, event) is not None:
            self.interrupted = True  # the blocked action is cancelled
            self.blocked_at = None
            self.settle(self._take_waiting())

    def release(self) -> None:
        index = self.blocked_at
        if index is None:
            return  # nothing waits for it
        self.blocked_at = None
        fire = self._returned(self.actions[self.state][index].event, None)
        if fire is None:
            fire = self._run_actions(index + 1, None)
        self.settle(fire)

    # -- the machine -----------------------------------------------------------------------

    def settle(self, fire: _Fire | None) -> None:
        """Go on until the machine waits: idle with nothing queued, or blocked in an action."""
        while not self.stopped:
            if fire is None:
                if self.blocked_at is not None:
                    return
                fire = self._idle()
                if fire is None:
                    return
            fire = self._fire(fire)

    def enter(self, state: str) -> _Fire | None:
        self.state = state
        if self.table.is_final(state):
            self.stopped = True
            return None
        if not self.actions.get(state):
            return None
        waiting = self._take_waiting()
        self.interrupted = waiting is not None
        return self._run_actions(0, waiting)

    def _fire(self, fire: _Fire) -> _Fire | None:
        transition, event, external = fire
        self.internal_run = 0 if external else self.internal_run + 1
        if self.internal_run > self.busy_limit:
            self.busy_loop = self.stopped = True
            return None
        self.trace.append((self.state, event, transition.to))
        return self.enter(transition.to)

    def _run_actions(self, start: int, waiting: _Fire | None) -> _Fire | None:
        actions = self.actions[self.state]
        for index in range(start, len(actions)):
            action = actions[index]
            if action.blocks:
                if self.interrupted:  # cancelled at its first checkpoint
                    break
                self.blocked_at = index
                return None
            fire = self._returned(action.event, waiting)
            if fire is not None:
                return fire
        if self.interrupted:
            self.interrupted = False
            return waiting or self._take_waiting()
        return None

    def _returned(self, event: str | None, waiting: _Fire | None) -> _Fire | None:
        """An action returned ``event``: it fires ahead of the mailbox, or is ignored."""
        if event is None:
            return None
        found = dispose_returned(self.table, self.state, event)
        if found is IGNORE:
            self.ignored += 1
            return None
        assert isinstance(found, Transition)
        self.interrupted = False
        if waiting is not None:
            self._hold(waiting[1])
        while self.mailbox:  # what arrived while the actions ran waits for an idle machine
            self._hold(self.mailbox.popleft())
        return (found, event, False)

    def _take_waiting(self) -> _Fire | None:
        while self.mailbox:
            fire = self._from_mailbox(self.mailbox.popleft(), busy=True)
            if fire is not None:
                return fire
        return None

    def _idle(self) -> _Fire | None:
        while self.held:
            fire = self._from_mailbox(self.held.take(), busy=False)
            if fire is not None:
                return fire
        while self.mailbox:
            fire = self._from_mailbox(self.mailbox.popleft(), busy=False)
            if fire is not None:
                return fire
        return None

    def _from_mailbox(self, event: str, *, busy: bool) -> _Fire | None:
        found = dispose(self.table, self.state, event, busy=busy)
        if isinstance(found, Disposition):
            if busy:
                self._hold(event)
            else:
                self.dropped += 1
            return None
        return (found, event, True)

    def _hold(self, event: str) -> None:
        if self.held.hold(event) is not None:
            self.dropped += 1
