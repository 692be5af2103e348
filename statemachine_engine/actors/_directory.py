"""Directory: the machines of one runtime by name, and where a message for a name goes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine.errors import ActorStopped, MailboxFull, TransportError

if TYPE_CHECKING:
    from statemachine_engine.actors._machine import MachineActor
    from statemachine_engine.transport import Message, Transport


class Directory:
    """Names to actors (stopped ones stay until their name is reused), and delivery by name:
    into a local mailbox, else through the transport."""

    __slots__ = ("machines", "transport")

    def __init__(self, transport: Transport | None) -> None:
        self.machines: dict[str, MachineActor] = {}
        self.transport = transport

    def running(self, name: str | None) -> MachineActor | None:
        """The actor running under ``name`` here, or None."""
        actor = self.machines.get(name) if name is not None else None
        if actor is None or actor.terminated.is_set():
            return None
        return actor

    def running_names(self) -> list[str]:
        return sorted(n for n, a in self.machines.items() if not a.terminated.is_set())

    async def deliver_local(self, message: Message, *, recorded: bool = False) -> str | None:
        """Into the mailbox of the target running here; KeyError when no machine of that
        name was started here, ActorStopped when it has stopped. Returns the machine's state
        when the event will surely fire nothing there (see ``fires_nothing``), else None.
        ``recorded``: the message is in a durable target's inbox already (taken from the
        database: sent from another host), so it is not recorded again."""
        target = message.target
        actor = self.machines.get(target) if target is not None else None
        if actor is None:
            raise KeyError(target)
        if actor.terminated.is_set():
            raise ActorStopped(actor.name, actor.status)
        if recorded and actor.durable:
            await actor.redeliver(message)
            return None
        if actor.durable:
            # acknowledged once its inbox row is committed (others may arrive meanwhile:
            # what it will do is not known)
            await actor.deliver(message)
            return None
        idle_in = actor.fires_nothing(message)  # (no schedule point from here to the put)
        try:
            # no schedule point while there is room: a pipelined sender's lines go into the
            # mailbox in one pass, instead of one pass of the scheduler per message
            actor.deliver_nowait(message)
        except MailboxFull:
            await actor.deliver(message)  # backpressure: wait for room
        return idle_in

    async def deliver(self, message: Message) -> None:
        """Into a local mailbox, else through the transport."""
        target = message.target
        if target is None:
            raise TransportError("message has no target")
        actor = self.running(target)
        if actor is not None:
            await actor.deliver(message)
            return
        if self.transport is not None:
            await self.transport.deliver(target, message)
            return
        raise TransportError(
            f"no machine named {target!r} is running in this runtime", target=target
        )
