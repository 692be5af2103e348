"""MachineHost: what a running machine offers its actions (``BaseAction.host``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from statemachine_engine.errors import TransportError
from statemachine_engine.fsm import record_failure
from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actors._machine import MachineActor
    from statemachine_engine.actors._services import MachineServices
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.persistence import Store


class MachineHost:
    """Implements :class:`statemachine_engine.actions.ActionHost` for one machine, from the
    runtime's services (reporter, directory, spawner, store)."""

    __slots__ = ("_actor", "_services")

    def __init__(self, actor: MachineActor, services: MachineServices) -> None:
        self._actor = actor
        self._services = services

    @property
    def machine_name(self) -> str:
        return self._actor.name

    @property
    def spec(self) -> MachineSpec:
        return self._actor.spec

    @property
    def store(self) -> Store | None:
        return self._services.store

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self._services.reporter.publish(self._actor.name, event_type, payload)

    def log_activity(self, message: str, level: str = "info", **fields: Any) -> None:
        self._services.reporter.activity(self._actor.name, message, level, fields)

    def report_error(self, action: str, message: str, *, traceback: str = "") -> None:
        actor = self._actor
        self._services.reporter.action_error(
            actor.name,
            actor.state,
            actor.context.get("job_id"),
            action=action,
            message=message,
            tb=traceback,
        )

    async def send(
        self,
        target: str,
        event_type: str,
        payload: Any = None,
        *,
        job_id: str | None = None,
    ) -> None:
        message = Message(
            type=event_type,
            payload=payload if payload is not None else {},
            target=target,
            job_id=job_id,
            source=self._actor.name,
        )
        journal = self._actor.journal
        if journal is not None:
            # durable: into the outbox with the step, delivered once that is committed
            message = attrs.evolve(message, message_id=journal.outgoing_id())
            journal.post(message)
            await journal.settle()
            self._services.outbox.post(message)
            return
        status = "failed"
        try:
            await self._services.directory.deliver(message)
            status = "delivered"
        except TransportError as exc:
            if _may_have_arrived(exc):
                status = "unknown"
            raise
        finally:
            self._services.reporter.event_sent(
                source=self._actor.name,
                target=target,
                event_type=event_type,
                payload=message.payload,
                job_id=job_id,
                status=status,
            )

    async def spawn(
        self,
        config_path: str,
        *,
        name: str,
        context: Mapping[str, Any] | None = None,
        on_done: str | None = None,
        process: bool = False,
    ) -> str:
        actor = self._actor
        return await self._services.spawner.spawn_child(
            config_path,
            parent=actor.ref,
            parent_source=actor.spec.source,
            # a child process that cannot start fails its parent's action, as one that raises
            report_error=functools.partial(record_failure, actor.context, report=self.report_error),
            name=name,
            context=context,
            on_done=on_done,
            process=process,
            parent_run=actor.journal.run_id if actor.journal is not None else None,
        )

    def wall_time(self) -> float:
        return self._services.reporter.wall_time()


def _may_have_arrived(exc: TransportError) -> bool:
    """Whether the target may still handle a message whose delivery failed: it went to a
    control socket, but no acknowledgement came back (a timeout, a connection broken after
    the write). Refusals (DeliveryError) and failed connects (their own TransportError
    subclass) are certain failures, and so are local ones, which name no socket path."""
    return type(exc) is TransportError and exc.path is not None
