"""MachineHost: what a running machine offers its actions (``BaseAction.host``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actors._machine import MachineActor
    from statemachine_engine.actors._runtime import Runtime
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.persistence._protocol import Store


class MachineHost:
    """Implements :class:`statemachine_engine.actions.ActionHost` for one machine."""

    __slots__ = ("_actor", "_runtime")

    def __init__(self, runtime: Runtime, actor: MachineActor) -> None:
        self._runtime = runtime
        self._actor = actor

    @property
    def machine_name(self) -> str:
        return self._actor.name

    @property
    def spec(self) -> MachineSpec:
        return self._actor.spec

    @property
    def store(self) -> Store | None:
        return self._runtime.store

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self._runtime.publish(self._actor.name, event_type, payload)

    def log_activity(self, message: str, level: str = "info", **fields: Any) -> None:
        self._runtime.publish(
            self._actor.name, "activity_log", {"message": message, "level": level, **fields}
        )

    def report_error(self, action: str, message: str) -> None:
        self._runtime.action_error(self._actor, action=action, message=message, tb="")

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
        status = "failed"
        try:
            await self._runtime.deliver(message)
            status = "delivered"
        finally:
            self._runtime.record(
                "event_sent",
                source_machine=self._actor.name,
                target_machine=target,
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
        return await self._runtime.spawn_child(
            self._actor, config_path, name=name, context=context, on_done=on_done, process=process
        )

    def wall_time(self) -> float:
        return self._runtime.wall_time()
