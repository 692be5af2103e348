"""The transition side of a machine actor: leaving a state along a transition, and busy loops.

``_leave`` is what every transition does before its target is entered, synchronously: the
event becomes ``event_data``, the transition is counted, recorded, published, checkpointed
and logged. ``_cross`` is the rest when something must be awaited first (the store's
backpressure, the transition's own actions: the actor's loop asks). A transition with
neither -- the common step -- costs no coroutine: the actor's loop enters the target.

A machine firing internal transitions (events its actions return) without ever blocking is
reported once as a busy loop (see ``_busy_loop`` for how blocking is told apart), unless it
took new jobs from the queue meanwhile: a job is an input, as an event is (a worker draining
a backlog from its claim-ahead reserve need not block at all).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.actors._busy_loop import forget_busy_loop, suspect_busy_loop
from statemachine_engine.actors._journal import TRANSITION, Journal
from statemachine_engine.actors._machine_log import TransitionLog, report_busy_loop

if TYPE_CHECKING:
    from statemachine_engine.actors._host import MachineHost
    from statemachine_engine.actors._mailbox import Fire
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.config import ActionSpec, Transition
    from statemachine_engine.persistence import Store
    from statemachine_engine.transport import Message

logger = logging.getLogger("statemachine_engine.machine")

#: internal transitions in a row reported as a busy loop: the machine never waited on its
#: mailbox or its timer, took no new job from the queue in the second half of the run, and
#: its task never blocked on anything else (see ``_busy_loop``)
BUSY_LOOP_THRESHOLD = 10_000


class TransitionSteps:
    """A mixin of :class:`MachineActor` (which sets the attributes below)."""

    name: str
    state: str
    context: dict[str, Any]
    host: MachineHost
    transitions: int
    _reporter: Reporter
    _journal: Journal | None
    _store: Store | None
    _stopping: bool
    _task: trio.lowlevel.Task | None
    _internal_run: int
    _run_job: object  # the job in the context half way to the threshold
    _busy_reported: bool
    _log: TransitionLog | None
    _state_scope: trio.CancelScope | None

    if TYPE_CHECKING:

        def _accept(self, message: Message) -> None: ...

        def _arrive(
            self, state: str, *, resumed: bool = False, due: float | None = None
        ) -> tuple[ActionSpec, ...] | None: ...

        async def _run_entry(
            self, state: str, actions: tuple[ActionSpec, ...], done: int
        ) -> Fire | None: ...

        async def _step_action(
            self, action: ActionSpec, phase: str, index: int, *, in_transition: bool = False
        ) -> str | None: ...

    def _leave(self, fire: Fire) -> Transition:
        """Leave the current state along ``fire.transition``: everything but waiting."""
        if fire.message is None:
            run = self._internal_run = self._internal_run + 1
            if run == BUSY_LOOP_THRESHOLD // 2 and self._task is not None:
                # a wait on anything else (the store, a thread, the clock) clears the run
                suspect_busy_loop(self._task, self._not_busy)
                self._run_job = self.context.get("job_id")
            elif run >= BUSY_LOOP_THRESHOLD and not self._busy_reported:
                if self.context.get("job_id") == self._run_job:
                    self._report_busy_loop()
                else:  # it took a job from the queue since: an input, as an event is
                    self._not_busy()
        else:
            self._accept(fire.message)
        source = self.state
        transition = fire.transition
        self.transitions += 1
        self._reporter.transition(self.name, source, transition.to, fire.event, self.context)
        if self._journal is not None:
            self._journal.fired(
                source,
                transition.to,
                fire.event,
                fire.message.message_id if fire.message is not None else None,
                self.context,
                has_actions=bool(transition.actions),
            )
        if logger.isEnabledFor(logging.INFO):
            log = self._log
            if log is None:
                log = self._log = TransitionLog(self.name)
            log.log(source, fire.event, transition.to)
        return transition

    async def _cross(self, transition: Transition) -> Fire | None:
        """After :meth:`_leave`: wait for room in the store, run the transition's actions,
        enter the target."""
        store = self._store
        if store is not None and store.backlogged:
            await store.wait_for_room()  # backpressure: history is never dropped
            self._internal_run = 0  # a machine waiting on the store is not a busy loop
        if transition.actions:
            await self._transition_actions(transition.actions, 0)
            if self._stopping:
                return None
        actions = self._arrive(transition.to)
        if not actions:
            return None
        return await self._run_entry(transition.to, actions, 0)

    async def _transition_actions(self, actions: tuple[ActionSpec, ...], done: int) -> None:
        with trio.CancelScope() as self._state_scope:
            for index in range(done, len(actions)):
                await self._step_action(actions[index], TRANSITION, index, in_transition=True)
        self._state_scope = None

    def _not_busy(self) -> None:
        self._internal_run = 0
        if self._task is not None:
            forget_busy_loop(self._task)

    def _report_busy_loop(self) -> None:
        self._busy_reported = True
        if self._task is not None:
            forget_busy_loop(self._task)
        report_busy_loop(self.name, self.state, BUSY_LOOP_THRESHOLD, self.host)
