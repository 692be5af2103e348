"""The part of a machine actor that runs ``repeatable`` entry actions again while it waits.

The published package ran such actions on every tick of its polling loop; here a machine
idle in a state with repeatable actions waits until running them again may give something
(the action's ``until_worth_repeating``: the interval, or for a queue check a job added),
then runs them as entry actions run -- an event they return fires, an event that arrives and
fires cancels them, an event that fires nothing is held and then dropped -- and waits again.
The state's timer and a stop end the wait as they end any other.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from statemachine_engine.actors._mailbox import Fire
from statemachine_engine.fsm import DROP, dispose

if TYPE_CHECKING:
    from statemachine_engine.actions import ActionRegistry, BaseAction
    from statemachine_engine.config import ActionSpec, MachineSpec
    from statemachine_engine.fsm import HeldQueue, Repeat, Table
    from statemachine_engine.transport import Message

logger = logging.getLogger("statemachine_engine.machine")


class RepeatingSteps:
    """A mixin of :class:`MachineActor` (which sets the attributes below)."""

    name: str
    state: str
    spec: MachineSpec
    table: Table
    registry: ActionRegistry
    _deadline: float
    _timer: Fire | None
    _stopping: bool
    _interrupted: bool
    _held: HeldQueue[Message] | None
    _state_scope: trio.CancelScope | None
    _busy_scope: trio.CancelScope | None

    if TYPE_CHECKING:

        def _take_waiting(self, state: str) -> Fire | None: ...

        def _drop(self, message: Message) -> None: ...

        def _build(self, action: ActionSpec) -> BaseAction: ...

        async def _busy(
            self,
            state: str,
            actions: tuple[ActionSpec, ...],
            done: int = 0,
            only: tuple[int, ...] | None = None,
        ) -> Fire | None: ...

    async def _idle_repeating(self, repeat: Repeat) -> Fire:
        """The idle phase of a state with repeatable actions."""
        state = self.state
        while True:
            held = self._held
            while held:
                message = held.take()
                found = dispose(self.table, state, message.type, busy=False)
                if found is not DROP:
                    return Fire(found, message.type, message)
                self._drop(message)
            if self._stopping:
                raise trio.ClosedResourceError  # as an idle machine's closed mailbox
            if trio.current_time() >= self._deadline:
                assert self._timer is not None
                return self._timer
            fire = await self._pause(state, repeat)
            if fire is None and not self._stopping:
                fire = await self._busy(state, self.spec.actions[state], only=repeat.indices)
            if fire is not None:
                return fire

    async def _pause(self, state: str, repeat: Repeat) -> Fire | None:
        """Wait until the repeatable actions are worth running again (None: run them), or
        for what ends the wait first: an event that fires, the state's timer, a stop."""
        waiting = self._take_waiting(state)
        if waiting is not None:
            return waiting
        self._interrupted = False
        action = self.spec.actions[state][repeat.indices[0]]
        with trio.CancelScope(deadline=self._deadline) as scope:
            self._state_scope = self._busy_scope = scope
            if self._stopping:
                scope.cancel()
            try:
                await self._build(action).until_worth_repeating(
                    repeat.interval, explicit=repeat.explicit
                )
            except Exception as exc:  # (a broken hook must not stop the machine: run it)
                logger.warning("[%s] %s: waiting to repeat failed: %s", self.name, action.type, exc)
                await trio.sleep(repeat.interval)
            finally:
                self._state_scope = self._busy_scope = None
        if self._interrupted:
            return self._take_waiting(state)
        if scope.cancelled_caught and trio.current_time() >= self._deadline:
            return self._timer
        return None
