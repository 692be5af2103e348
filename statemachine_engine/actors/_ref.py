"""ActorRef: the handle through which everything else talks to a machine."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actors._machine import MachineActor
    from statemachine_engine.actors._statistics import ActorStatistics

_PLAIN_KEPT = 64


class ActorRef:
    """Send events to a machine, wait for it to reach a state, stop it.

    A thin handle: the mailbox belongs to the actor, and sending goes through its
    ``deliver``/``deliver_nowait`` (ActorStopped when it has stopped, MailboxFull).
    """

    __slots__ = ("_actor", "_plain", "name")

    def __init__(self, actor: MachineActor) -> None:
        self.name = actor.name
        self._actor = actor
        #: the message of each plain event (no payload, job or source), made on first use
        self._plain: dict[str, Message] | None = None

    def __repr__(self) -> str:
        return f"<ActorRef {self.name} state={self._actor.state} {self._actor.status}>"

    @property
    def state(self) -> str:
        return self._actor.state

    @property
    def status(self) -> str:
        return self._actor.status

    @property
    def context(self) -> dict[str, Any]:
        """The machine's live context (read it; let actions write it)."""
        return self._actor.context

    def send(
        self,
        event: str,
        payload: Any = None,
        *,
        job_id: str | None = None,
        source: str | None = None,
    ) -> Coroutine[Any, Any, None]:
        """Put an event in the machine's mailbox; waits while the mailbox is full. (Await
        it: it is the actor's ``deliver`` coroutine, handed back without a frame of its own
        around it -- a send into an idle machine is that cheap.)"""
        if payload is None and job_id is None and source is None:
            message = self._plain_message(event)
        else:
            message = Message(event, payload, self.name, job_id, source)
        return self._actor.deliver(message)

    async def send_message(self, message: Message) -> None:
        await self._actor.deliver(message)

    def send_nowait(
        self,
        event: str,
        payload: Any = None,
        *,
        job_id: str | None = None,
        source: str | None = None,
    ) -> None:
        """Like :meth:`send`, but raises :class:`MailboxFull` instead of waiting."""
        if payload is None and job_id is None and source is None:
            message = self._plain_message(event)
        else:
            message = Message(event, payload, self.name, job_id, source)
        self._actor.deliver_nowait(message)

    def _plain_message(self, event: str) -> Message:
        # A Message is immutable and costs more to build than the rest of a send into an
        # idle machine: a plain event is built once and sent again (up to _PLAIN_KEPT names,
        # so a caller inventing names cannot grow this without bound).
        plain = self._plain
        if plain is None:
            plain = self._plain = {}
        message = plain.get(event)
        if message is None:
            message = Message(event, None, self.name)
            if len(plain) < _PLAIN_KEPT:
                plain[event] = message
        return message

    def send_message_nowait(self, message: Message) -> None:
        self._actor.deliver_nowait(message)

    async def wait_state(self, state: str) -> None:
        """Return once the machine is in ``state`` (at once if it already is).

        Raises :class:`ActorStopped` if the machine stops in another state first.
        """
        await self._actor.wait_state(state)

    async def wait_stopped(self) -> str:
        """Wait until the machine has stopped; returns its status (stopped or crashed)."""
        await self._actor.terminated.wait()
        return self._actor.status

    def cancel(self) -> None:
        """Cancel the machine (running actions included) without waiting for its clean-up."""
        self._actor.cancel()

    async def stop(self) -> None:
        """Cancel the machine (running actions included) and wait until it has cleaned up."""
        self._actor.cancel()
        await self._actor.terminated.wait()

    def statistics(self) -> ActorStatistics:
        return self._actor.statistics()
