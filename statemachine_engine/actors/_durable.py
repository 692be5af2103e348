"""The durable side of a machine actor: actions run after their start is committed, resume."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from statemachine_engine.actors._action_runner import ActionRunner
from statemachine_engine.actors._journal import TRANSITION, Journal, Position
from statemachine_engine.errors import ConfigError

if TYPE_CHECKING:
    from statemachine_engine.actions import ActionRegistry
    from statemachine_engine.actors._mailbox import Fire
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.config import ActionSpec
    from statemachine_engine.fsm import Table
    from statemachine_engine.persistence import Store

logger = logging.getLogger("statemachine_engine.machine")


class DurableSteps(ActionRunner):
    """The part of :class:`MachineActor` that a journal changes (a mixin: the actor sets the
    attributes below; a machine without a journal runs its actions as they come)."""

    table: Table
    registry: ActionRegistry
    _journal: Journal | None
    _killed: bool
    _stopping: bool
    _reporter: Reporter
    _store: Store | None

    if TYPE_CHECKING:

        def cancel(self) -> None: ...

        async def _enter(
            self, state: str, *, resumed: bool = False, due: float | None = None, done: int = 0
        ) -> Fire | None: ...

        async def _transition_actions(self, actions: tuple[ActionSpec, ...], done: int) -> None: ...

    @property
    def durable(self) -> bool:
        return self._journal is not None

    @property
    def journal(self) -> Journal | None:
        """A durable machine's checkpoint writer (None: the machine lives in memory)."""
        return self._journal

    def kill(self) -> None:
        """Stop the machine as SIGKILL would stop its process: a durable machine keeps its
        checkpoint as it was last written (simulations and tests of resuming)."""
        self._killed = True
        self.cancel()

    async def _step_action(
        self, action: ActionSpec, phase: str, index: int, *, in_transition: bool = False
    ) -> str | None:
        """Run one action; a durable machine first commits that it starts."""
        journal = self._journal
        if journal is None:
            return await self._run_action(action, in_transition=in_transition)
        journal.starting(phase, index, self.context)
        if not _rerun_safe(self.registry, action.type):
            await journal.settle()
        event = await self._run_action(action, in_transition=in_transition)
        journal.unsettled = True
        return event

    async def _resumed(self, at: Position) -> Fire | None:
        """Carry on from a checkpoint: the transition's remaining actions, or the state's,
        with its timer due at its original wall-clock deadline."""
        logger.info("resuming %s in %s (entered %s)", self.name, at.state, _when(at.entered_at))
        await self._hold_current_job()
        if at.phase == TRANSITION:
            transition = self.table.select(at.from_state or "", at.event or "")
            if transition is not None:
                await self._transition_actions(transition.actions, at.action_index)
                if self._stopping:
                    return None
            return await self._enter(at.state)
        due = None
        if at.deadline is not None:
            due = max(0.0, at.deadline - self._reporter.wall_time())
        return await self._enter(at.state, resumed=True, due=due, done=at.action_index)

    async def _hold_current_job(self) -> None:
        """Take back the lease of the job the checkpoint says this machine works on, so
        that the store renews it again; a job the queue took back while the machine was
        down (its lease lapsed) is said so -- completing it will be refused."""
        job = self.context.get("current_job")
        job_id = job.get("id") if isinstance(job, Mapping) else None
        if self._store is None:
            return
        self._store.machine_resumed(self.name, job_id=None if job_id is None else str(job_id))
        if job_id is None:
            return
        if not await self._store.heartbeat(str(job_id), worker=self.name):
            logger.warning(
                "%s resumes with job %s, which it no longer holds: its lease lapsed while"
                " the machine was down, and the queue gave it out again",
                self.name,
                job_id,
            )


def _rerun_safe(registry: ActionRegistry, action_type: str) -> bool:
    """Whether an action may run again after a crash without harm, so that its start need
    not be on disk before it runs (``send_event``: the copy is dropped by the receiver)."""
    try:
        return registry.get(action_type).RERUN_SAFE
    except ConfigError:  # (it cannot be loaded: it fails when it runs, reported there)
        return False


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "at an unknown time"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
