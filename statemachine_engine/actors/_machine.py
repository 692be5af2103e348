"""MachineActor: one machine as a trio task around the pure rules of ``fsm``.

The loop alternates two phases (docs/architecture.md, "Machine actors"):

* **busy** -- the state's entry actions run in order inside a *state scope*, a cancel scope
  that carries the state's timeout deadline (entered only once an action blocks, for the
  actions that allow it: ``_unscoped.py``). The mailbox is watched while they run without a
  task of its own: a sender that delivers an event which fires a transition from the current
  state cancels the state scope (:meth:`MachineActor.interrupt`), and so does an event already
  waiting when the state is entered. Events that fire nothing wait, in arrival order, until
  the machine is idle. An event an action returns is dispatched at once (run-to-completion).
* **idle** -- held events are examined first, in arrival order, in the current state; then
  the machine waits on its mailbox until the deadline. An event that fires nothing here is
  counted as unhandled and dropped.

What an event does (fire, hold, drop, ignore) is decided by ``fsm.dispose`` and
``fsm.dispose_returned``; this module keeps the cancel scopes, the deadlines and the mailbox.
Every transition re-enters its target, self-loops included: entry actions run again and the
timers restart.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.actors._busy_loop import forget_busy_loop
from statemachine_engine.actors._crossing import TransitionSteps
from statemachine_engine.actors._durable import DurableSteps
from statemachine_engine.actors._host import MachineHost
from statemachine_engine.actors._journal import ENTRY, Journal, Position
from statemachine_engine.actors._machine_log import TransitionLog
from statemachine_engine.actors._mailbox import Fire, Mailbox
from statemachine_engine.actors._ref import ActorRef
from statemachine_engine.actors._repeat import RepeatingSteps
from statemachine_engine.actors._unscoped import Blocked, carry_on, start
from statemachine_engine.config import ActionSpec, MachineSpec
from statemachine_engine.errors import ActionLoadError, ActorStopped, StateMachineError
from statemachine_engine.fsm import DROP, IGNORE, HeldQueue, dispose, dispose_returned
from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actions import ActionRegistry
    from statemachine_engine.actors._services import MachineServices
    from statemachine_engine.actors._statistics import ActorStatistics
    from statemachine_engine.fsm import Table

logger = logging.getLogger("statemachine_engine.machine")

#: transitions a machine may fire without blocking before it yields to other tasks: the
#: only schedule point of a worker that takes its jobs from its claim-ahead reserve (about
#: 0.7 ms of a drain's steps at the median, 2.4 ms at the 99th percentile); a yield from
#: inside an action costs as much as two of its transitions
YIELD_EVERY = 32
_NEVER = float("inf")


class _Waiter:
    __slots__ = ("event", "reached")

    def __init__(self) -> None:
        self.event = trio.Event()
        self.reached = False


class MachineActor(Mailbox, TransitionSteps, DurableSteps, RepeatingSteps):
    """Runs one machine. Created and started by the runtime; reached through ActorRef."""

    def __init__(
        self,
        spec: MachineSpec,
        table: Table,
        name: str,
        context: dict[str, Any],
        registry: ActionRegistry,
        capacity: int,
        services: MachineServices,
        *,
        journal: Journal | None = None,
        resume: Position | None = None,
    ) -> None:
        self.spec = spec
        self.table = table
        self.name = name
        self.registry = registry
        self.capacity = capacity
        self.state = resume.state if resume is not None else spec.initial_state
        self.status = "starting"
        self.context = context
        context["machine_name"] = name
        context["current_state"] = self.state
        context.setdefault("event_data", {})
        self._send, self._receive = trio.open_memory_channel[Message](capacity)
        self.ref = ActorRef(self)
        self.terminated = trio.Event()
        self.host = MachineHost(self, services)
        self._reporter = services.reporter
        self._timers = services.timers
        self._store = services.store
        self._state_scope: trio.CancelScope | None = None
        self._stopping = False
        self._held: HeldQueue[Message] | None = None  # made on first use: most never hold
        self._waiters: dict[str, list[_Waiter]] = {}
        self._deadline = _NEVER
        self._timer: Fire | None = None
        self._entry = 0  # counts state entries, so a deadline of an earlier entry is ignored
        self._interrupted = False  # a sender delivered an event that fires while actions ran
        self._busy_scope: trio.CancelScope | None = None  # set while entry actions run
        self._unscoped_run = False  # entry actions run before their scope is entered
        self._unyielded = 0
        self._internal_run = 0
        self._run_job: object = None
        self._busy_reported = False
        self._log: TransitionLog | None = None
        #: a durable machine's checkpoints (None: the machine lives in memory only)
        self._journal = journal
        self._resume = resume
        self._killed = False
        self.events_received = 0
        self.transitions = 0
        self.events_dropped = 0
        self.unhandled = 0
        self._parked: trio.lowlevel.Task | None = None
        self._queued = 0
        self._task: trio.lowlevel.Task | None = None  # the actor's own, once it runs
        self._held_dropped = 0
        self.action_events_ignored = 0
        self.errors = 0

    # -- lifecycle -----------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[ActorRef] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The actor task. Reports ready (with its ref) before entering the initial state."""
        reason = "stopped"
        self.status = "running"
        self._task = trio.lowlevel.current_task()
        self._reporter.machine_started(self.name, self.state, self.spec)
        task_status.started(self.ref)
        try:
            await self._main()
            if self.table.is_final(self.state):
                reason = "final"
            elif self._killed:
                reason = "killed"
        except trio.ClosedResourceError:
            pass  # cancel() closed the mailbox while the machine waited on it
        except Exception as exc:  # the supervisor boundary: record, mark crashed, go on
            reason = "crashed"
            self.status = "crashed"
            self._reporter.machine_crashed(self.name, self.state, self.context.get("job_id"), exc)
        finally:
            self._receive.close()
            forget_busy_loop(self._task)
            if self.status != "crashed":
                self.status = "stopped"
            for waiters in self._waiters.values():
                for waiter in waiters:
                    waiter.event.set()
            self._waiters.clear()
            if self._journal is not None and not self._killed:
                self._journal.ended(reason)
            resumable = self._journal is not None and reason == "stopped"
            self._reporter.machine_stopped(
                self.name, self.state, self.spec, reason, resumable=resumable
            )
            self.terminated.set()

    def cancel(self) -> None:
        """Stop the machine: cancel what runs in its state and close its mailbox.

        Machines hold no cancel scope of their own while idle (it would cost memory per
        machine); closing the mailbox and waking an idle machine stops it instead.
        """
        self._stopping = True
        if self._state_scope is not None:
            self._state_scope.cancel()
        self._receive.close()
        self._wake()  # it finds its mailbox closed

    async def wait_state(self, state: str) -> None:
        if self.state == state:
            return
        if state not in self.spec.all_states:
            raise StateMachineError(
                f"machine {self.name!r} has no state {state!r}; its states: "
                + ", ".join(self.spec.all_states)
            )
        if self.terminated.is_set():
            raise ActorStopped(self.name, f"{self.status} in state {self.state!r}")
        waiter = _Waiter()
        self._waiters.setdefault(state, []).append(waiter)
        await waiter.event.wait()
        if not waiter.reached:
            raise ActorStopped(self.name, f"{self.status} in state {self.state!r}")

    def statistics(self) -> ActorStatistics:
        from statemachine_engine.actors._statistics import ActorStatistics  # first use

        return ActorStatistics(
            name=self.name,
            state=self.state,
            status=self.status,
            mailbox_depth=self._receive.statistics().current_buffer_used,
            mailbox_capacity=self.capacity,
            held=len(self._held) if self._held is not None else 0,
            events_received=self.events_received,
            transitions=self.transitions,
            events_dropped=self.events_dropped,
            action_events_ignored=self.action_events_ignored,
            errors=self.errors,
        )

    # -- the loop ------------------------------------------------------------------------

    async def _main(self) -> None:
        if self._resume is not None:
            fire = await self._resumed(self._resume)
        else:
            uses_start = any(t.event == "start" for t in self.spec.transitions)
            fire = await self._enter(self.spec.initial_state)
            if uses_start:
                self._hold(Message(type="start", target=self.name, source="runtime"), first=True)
        final = self.table.final
        while self.state not in final:
            if self._stopping:
                return
            if fire is None:
                fire = await self._idle()
            self._unyielded += 1
            if self._unyielded >= YIELD_EVERY:
                self._unyielded = 0
                await trio.lowlevel.checkpoint()
            # leave the state along the transition, then enter its target: every transition
            # re-enters, self-loops included (entry actions run again, timers restart)
            transition = self._leave(fire)
            store = self._store
            if transition.actions or (store is not None and store.backlogged):
                fire = await self._cross(transition)
                continue
            actions = self._arrive(transition.to)
            fire = await self._run_entry(transition.to, actions, 0) if actions else None

    async def _enter(
        self, state: str, *, resumed: bool = False, due: float | None = None, done: int = 0
    ) -> Fire | None:
        """Enter ``state``: arm its deadline, run its entry actions. Returns the transition
        decided while they ran, or None when the machine is idle in ``state``.

        A machine ``resumed`` in ``state`` passes its timer's remaining seconds (``due``)
        and the number of entry actions it had completed (``done``)."""
        actions = self._arrive(state, resumed=resumed, due=due)
        if not actions:
            return None
        return await self._run_entry(state, actions, done)

    def _arrive(
        self, state: str, *, resumed: bool = False, due: float | None = None
    ) -> tuple[ActionSpec, ...] | None:
        """What entering ``state`` does before its entry actions run: its deadline armed,
        the checkpoint written, those waiting for it told. Returns its entry actions.

        (Synchronous, so that a transition into a state without actions -- the common
        step -- costs no coroutine.)"""
        self.state = state
        self.context["current_state"] = state
        timer = self.table.first_timer(state)  # (None for most states: one dict lookup)
        if timer is None:
            self._deadline = _NEVER
            self._timer = None
        else:
            seconds, event = timer
            self._deadline = trio.current_time() + (seconds if due is None else due)
            self._timer = Fire(self.table.select(state, event), event, None)  # type: ignore[arg-type]
            self._entry += 1
            self._timers.arm(self._deadline, self, self._entry)
        journal = self._journal
        if journal is not None and not resumed:
            journal.entered(state, timer[0] if timer else None, self.context)
        waiters = self._waiters.pop(state, None)
        if waiters:
            for waiter in waiters:
                waiter.reached = True
                waiter.event.set()
        return self.spec.actions.get(state)

    async def _run_entry(
        self, state: str, actions: tuple[ActionSpec, ...], done: int
    ) -> Fire | None:
        """Run the entry actions of ``state`` from index ``done``; see :meth:`_enter`."""
        if self.table.is_final(state):
            # they run to the end; the events they return are ignored
            with trio.CancelScope() as self._state_scope:
                for index in range(done, len(actions)):
                    await self._step_action(actions[index], ENTRY, index)
            self._state_scope = None
            return None
        if done >= len(actions):
            return None
        return await self._busy(state, actions, done)

    async def _busy(
        self,
        state: str,
        actions: tuple[ActionSpec, ...],
        done: int = 0,
        only: tuple[int, ...] | None = None,
    ) -> Fire | None:
        """Run the entry actions in the state scope. The scope carries the state's deadline,
        and :meth:`interrupt` cancels it when a sender delivers an event that fires from
        this state -- so the mailbox is watched without a task of its own.

        In a state without a deadline, with no event waiting, actions that allow it
        (``STARTS_UNSCOPED``) start without the scope (:meth:`_unscoped`): it is entered
        only once one of them blocks, or before the first action that does not allow it."""
        # An event already waiting that fires cancels the actions at their first checkpoint,
        # exactly as one arriving while they run; an action that returns before any
        # checkpoint still wins (run-to-completion), and the waiting event is then held.
        waiting = self._take_waiting(state)
        self._interrupted = waiting is not None
        order: Sequence[int] = range(done, len(actions)) if only is None else only
        blocked = None
        if (
            waiting is None
            and self._deadline == _NEVER
            and not self._stopping
            and self._journal is None
        ):
            ran = self._unscoped(state, actions, order)
            if isinstance(ran, Fire):
                self._hold_arrivals()
                return ran
            position, blocked = ran
            if position == len(order) and not (self._interrupted or self._stopping):
                return None  # every action ran and none blocked
            order = order[position:]
            if blocked is not None and blocked.scoped:
                # blocked inside a scope of its own: the state's cannot go around it now;
                # an event that fires meanwhile cancels the actions after it
                self._unscoped_run = True
                try:
                    fire = self._returned(state, await carry_on(blocked))
                finally:
                    self._unscoped_run = False
                _warn_scoped(self.name, actions[order[0]])
                if fire is not None:
                    self._hold_arrivals()
                    return fire
                blocked, order = None, order[1:]
        fire = None
        with trio.CancelScope(deadline=self._deadline) as scope:
            self._state_scope = self._busy_scope = scope
            if self._stopping or self._interrupted:
                scope.cancel()
            try:
                for index in order:
                    if blocked is not None:
                        event = await carry_on(blocked)  # the action the scope was entered for
                        blocked = None
                    else:
                        event = await self._step_action(actions[index], ENTRY, index)
                    if event is not None:
                        fire = self._returned(state, event)
                        if fire is not None:
                            break
                else:
                    if self._journal is not None:
                        self._journal.finished(ENTRY, len(actions), self.context)
            finally:
                self._state_scope = self._busy_scope = None
        if fire is not None or self._stopping:
            # an action's own event comes first (run-to-completion); whatever arrived while
            # the actions ran waits for the machine to be idle, in arrival order
            if waiting is not None and waiting.message is not None:
                self._hold(waiting.message)
            if fire is not None:
                self._hold_arrivals()
            return fire
        if self._interrupted:
            fire = waiting or self._take_waiting(state)
            if fire is not None:
                return fire
        if scope.cancelled_caught and trio.current_time() >= self._deadline:
            return self._timer
        return None

    def _unscoped(
        self, state: str, actions: tuple[ActionSpec, ...], order: Sequence[int]
    ) -> Fire | tuple[int, Blocked | None]:
        """Run entry actions without the state scope while each allows it and returns
        without blocking (a scope around them could not cancel anything: ``_unscoped.py``).
        Returns the transition an action's event fires, else where the scope takes over:
        the position in ``order`` (its length once every action ran) and the action that
        blocked there (None: the action there does not allow it, or an event that fires
        from this state arrived, or the machine began to stop, while the one before ran)."""
        self._unscoped_run = True
        try:
            for position, index in enumerate(order):
                action = actions[index]
                if not self._starts_unscoped(action.type):
                    return position, None
                ran = start(self._run_action(action), self._task)
                if isinstance(ran, Blocked):
                    return position, ran  # (nothing may run before it is carried on)
                if ran is not None:
                    fire = self._returned(state, ran)
                    if fire is not None:
                        return fire
                if self._interrupted or self._stopping:
                    return position + 1, None
            return len(order), None
        finally:
            self._unscoped_run = False

    def _returned(self, state: str, event: str | None) -> Fire | None:
        """The transition an event returned by an entry action fires (None: it returned
        none, or one this state ignores)."""
        if event is None:
            return None
        found = dispose_returned(self.table, state, event)
        if found is IGNORE:
            self.action_events_ignored += 1
            return None
        return Fire(found, event, None)

    def _starts_unscoped(self, action_type: str) -> bool:
        try:
            return self.registry.get(action_type).STARTS_UNSCOPED
        except ActionLoadError:  # the scoped path runs it and reports why
            return False

    async def _idle(self) -> Fire:
        journal = self._journal
        if journal is not None and journal.unsettled:
            await journal.settle()  # the actions' end is on disk before the machine waits
        state = self.state
        table = self.table
        if table.repeats:
            repeat = table.repeats.get(state)
            if repeat is not None:
                return await self._idle_repeating(repeat)
        held = self._held
        while held:
            message = held.take()
            found = dispose(table, state, message.type, busy=False)
            if found is not DROP:  # (an identity test: isinstance of an Enum costs 5x more)
                return Fire(found, message.type, message)
            self._drop(message)
        receive = self._receive
        woken = False
        while True:
            # (comparing with infinity first spares a machine without a timer the clock read)
            if self._deadline != _NEVER and trio.current_time() >= self._deadline:
                assert self._timer is not None
                return self._timer
            incoming = None
            if self._queued or woken:
                try:
                    incoming = receive.receive_nowait()  # ClosedResourceError once cancelled
                except trio.WouldBlock:
                    self._queued = 0
            if incoming is None:
                if self._stopping:
                    raise trio.ClosedResourceError  # cancelled while it was not parked
                self._unyielded = 0
                self._internal_run = 0
                # park until Mailbox._wake: a message put, the deadline passed, the mailbox closed
                self._parked = self._task
                await trio.lowlevel.wait_task_rescheduled(self._unpark)
                woken = True
                continue
            if self._queued:  # (Mailbox._took, spelt out on the path of every event)
                self._queued -= 1
            self.events_received += 1
            self._internal_run = 0
            # dispose(busy=False), spelt out: the transition it fires, else DROP
            selected = table.select(state, incoming.type)
            if selected is not None:
                return Fire(selected, incoming.type, incoming)
            self._drop(incoming)


_warned_scoped: set[str] = set()


def _warn_scoped(machine: str, action: ActionSpec) -> None:
    """Say once per action type that one marked ``STARTS_UNSCOPED`` opened a cancel scope
    (or a nursery) before it blocked -- a custom store's method may."""
    if action.type in _warned_scoped:
        return
    _warned_scoped.add(action.type)
    logger.warning(
        "[%s] action %r blocked inside a cancel scope of its own before the state's was "
        "entered (%s): it runs to its end, and a stop waits for it. STARTS_UNSCOPED is for "
        "actions that open no cancel scope or nursery before they block",
        machine,
        action.type,
        action.path,
    )
