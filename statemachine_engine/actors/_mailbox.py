"""The mailbox side of a machine actor: delivery, the idle machine's wake-up, the held queue.

A sender puts a message in the actor's bounded mailbox (``deliver``/``deliver_nowait``) and,
if the machine is running entry actions and the event fires from its state, cancels them
(``interrupt``). What the machine does with each event is asked of ``fsm.dispose``.

The mailbox is a bounded trio memory channel: its buffer, its waiting senders and its close
are trio's. The machine never blocks in the channel's ``receive``, though: an idle machine
with an empty mailbox parks its task (``_parked``; ``MachineActor._idle``) and whoever puts a
message in the buffer -- or the timer queue, when the state's deadline passes, or ``cancel``
-- wakes it (:meth:`Mailbox._wake`). That spares every event the channel's hand-over
machinery (a third of an awaited send's cost), and a deadline needs no token in the mailbox.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.actors._machine_log import log_held_dropped, log_unhandled
from statemachine_engine.config import Transition, resolve_path
from statemachine_engine.errors import ActorStopped, MailboxFull
from statemachine_engine.fsm import DROP, HOLD, HeldQueue, dispose
from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actors._journal import Journal
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.fsm import Table


class Fire:
    """A transition decided, with the event that fires it."""

    __slots__ = ("event", "message", "transition")

    def __init__(self, transition: Transition, event: str, message: Message | None) -> None:
        self.transition = transition
        self.event = event
        self.message = message  # None for action-returned and timeout events

    def __repr__(self) -> str:
        return f"Fire({self.transition!r}, {self.event!r}, {self.message!r})"


class Mailbox:
    """The part of :class:`MachineActor` that owns its mailbox (a mixin: the actor sets the
    attributes below in its ``__init__``)."""

    name: str
    status: str
    state: str
    capacity: int
    table: Table
    events_received: int
    events_dropped: int
    _send: trio.MemorySendChannel[Message]
    _receive: trio.MemoryReceiveChannel[Message]
    _busy_scope: trio.CancelScope | None
    _unscoped_run: bool
    _interrupted: bool
    _entry: int
    _deadline: float
    _held: HeldQueue[Message] | None
    _held_dropped: int
    #: events that fired nothing while the machine was idle (dropped)
    unhandled: int
    #: the machine's task while it waits idle on an empty mailbox, until ``_wake``
    _parked: trio.lowlevel.Task | None
    #: messages put in the mailbox and not yet taken, give or take one a waiting sender
    #: (``redeliver``) has not counted yet -- whose count and wake-up are then still to come:
    #: the machine looks in the channel only when it is not 0 or it was woken, which spares
    #: the common step the cost of trio's WouldBlock from an empty channel
    _queued: int

    _journal: Journal | None
    _reporter: Reporter
    spec: MachineSpec
    context: dict[str, Any]

    async def deliver(self, message: Message) -> None:
        """Put ``message`` in the mailbox, waiting while it is full; ActorStopped once the
        machine has stopped.

        A durable machine first records it in its inbox and returns once that is committed;
        a message whose id it has recorded before is a duplicate, dropped here."""
        journal = self._journal
        if journal is not None:
            recorded = await journal.receive(message)
            if recorded is None:
                return
            message = recorded
        # what the channel's send does (a cancelled send puts nothing; one schedule point),
        # with the machine woken before this task yields rather than after
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            await self.redeliver(message)  # full: wait for room
            return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorStopped(self.name, self.status) from None
        self._queued += 1
        task = self._parked
        if task is not None:  # (interrupt's first case, spelt out: an awaited send's path)
            self._parked = None
            trio.lowlevel.reschedule(task)
        else:
            self.interrupt(message)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def deliver_nowait(self, message: Message) -> None:
        """Like :meth:`deliver`, but MailboxFull instead of waiting. Nobody is told the
        message arrived, so a durable machine records no inbox row for it: a crash before the
        step it fires is committed loses it (``deliver`` is the call with that promise)."""
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            raise MailboxFull(self.name, self.capacity) from None
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorStopped(self.name, self.status) from None
        self._queued += 1
        self.interrupt(message)

    def preload(self, messages: list[Message]) -> list[Message]:
        """Put messages recorded before a resume in the mailbox before the machine starts;
        returns those that did not fit (deliver them with :meth:`redeliver`)."""
        for index, message in enumerate(messages):
            try:
                self._send.send_nowait(message)
            except trio.WouldBlock:
                return messages[index:]
            self._queued += 1
        return []

    async def redeliver(self, message: Message) -> None:
        """Deliver a message its inbox already holds (recorded before a resume)."""
        try:
            await self._send.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise ActorStopped(self.name, self.status) from None
        # (the machine may have taken it already: _queued is then one too many for a while,
        # which costs the machine one look at an empty mailbox, never a missed message)
        self._queued += 1
        self.interrupt(message)

    def interrupt(self, message: Message) -> None:
        """Once ``message`` is in the mailbox: wake the machine if it waits idle; if it is
        running entry actions and the event fires a transition from its state, cancel them."""
        if self._parked is not None:
            self._wake()
            return
        scope = self._busy_scope
        if (
            (scope is not None or self._unscoped_run)
            and not self._interrupted
            and self.table.select(self.state, message.type) is not None
        ):
            self._interrupted = True
            if scope is not None:
                scope.cancel()

    def deadline_passed(self, entry: int) -> None:
        """From the timer queue: the deadline of state entry ``entry`` has passed. A machine
        that is not parked checks its deadline before it next parks or takes a message."""
        if entry == self._entry:
            self._wake()

    @property
    def waiting_idle(self) -> bool:
        """The machine waits on its empty mailbox with nothing else to do."""
        return self._parked is not None

    def _wake(self) -> None:
        task = self._parked
        if task is not None:
            self._parked = None
            trio.lowlevel.reschedule(task)

    def _unpark(self, _: object) -> trio.lowlevel.Abort:
        """The parked machine's task is cancelled: it is no longer parked."""
        self._parked = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _hold_arrivals(self) -> None:
        """Move what is in the mailbox to the held queue."""
        while True:
            try:
                message = self._receive.receive_nowait()
            except trio.WouldBlock:
                self._queued = 0
                return
            self._took()
            self.events_received += 1
            self._hold(message)

    def _take_waiting(self, state: str) -> Fire | None:
        """Read the mailbox without waiting: events that fire nothing in ``state`` are held;
        the first that fires is returned."""
        while self._queued:  # (one not counted yet interrupts the actions when it is)
            try:
                message = self._receive.receive_nowait()
            except trio.WouldBlock:
                self._queued = 0
                return None
            self._took()
            self.events_received += 1
            found = dispose(self.table, state, message.type, busy=True)
            if found is not HOLD:
                return Fire(found, message.type, message)
            self._hold(message)
        return None

    def _took(self) -> None:
        """A message was taken from the mailbox."""
        if self._queued:
            self._queued -= 1

    def _hold(self, message: Message, *, first: bool = False) -> None:
        """Hold ``message`` until the machine is idle. The held queue is as long as the
        mailbox: when full, its oldest event is dropped. A machine that never goes idle (a
        polling loop) would otherwise fill both, and its senders -- a ``stop`` among them --
        would wait on a full mailbox for ever."""
        held = self._held
        if held is None:
            held = self._held = HeldQueue(self.capacity)
        dropped = held.hold_first(message) if first else held.hold(message)
        if dropped is not None:
            self.events_dropped += 1
            self._held_dropped += 1
            if self._journal is not None:
                self._journal.unused(dropped)
            log_held_dropped(self.name, self._held_dropped, dropped.type, self.capacity)

    def fires_nothing(self, message: Message) -> str | None:
        """The state in which ``message`` will surely fire nothing -- the machine waits idle
        with nothing before it in the mailbox, and the event has no transition from its
        state -- or None when that is not known yet (the acknowledgement says so)."""
        if not self.waiting_idle or self._receive.statistics().current_buffer_used:
            return None
        if dispose(self.table, self.state, message.type, busy=False) is DROP:
            return self.state
        return None

    def _accept(self, message: Message) -> None:
        """An external event fires: it becomes ``event_data``; ``context_map`` promotes."""
        data = message.as_event_data()
        self.context["event_data"] = data
        event = self.spec.events.get(message.type)
        if event is not None and event.context_map:
            for key, path in event.context_map.items():
                value = resolve_path(data, path)
                if value is not None:
                    self.context[key] = value

    def _drop(self, message: Message) -> None:
        """An event fired nothing while the machine was idle: logged (thinned), audited,
        published, and gone."""
        self.events_dropped += 1
        self.unhandled += 1
        worth = log_unhandled(self.name, message.type, self.state, self.unhandled)
        self._reporter.unhandled(self.name, self.state, message, publish=worth)
        if self._journal is not None:
            self._journal.unused(message)
