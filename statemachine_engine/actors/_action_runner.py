"""Running one action of a machine: build it, run it, turn a failure into its error event."""

from __future__ import annotations

import functools
import logging
import traceback
from typing import TYPE_CHECKING, Any

from statemachine_engine.actors._action_config import action_config, error_event, static_config
from statemachine_engine.errors import StateMachineError
from statemachine_engine.fsm import record_failure

if TYPE_CHECKING:
    from statemachine_engine.actions import ActionRegistry, BaseAction
    from statemachine_engine.actors._host import MachineHost
    from statemachine_engine.config import ActionSpec
    from statemachine_engine.fsm import Table

logger = logging.getLogger("statemachine_engine.machine")


class ActionRunner:
    """The part of :class:`MachineActor` that runs actions (a mixin: it reads the actor's
    registry, context and host, and counts its errors)."""

    name: str
    state: str
    context: dict[str, Any]
    registry: ActionRegistry
    host: MachineHost
    table: Table
    errors: int

    async def _run_action(self, action: ActionSpec, *, in_transition: bool = False) -> str | None:
        """Run one action; returns the event it asks for (its error event if it fails)."""
        config: dict[str, Any] = action.config  # type: ignore[assignment]
        try:
            instance = self._build(action)
            config = instance.config
            event = await instance.execute(self.context)
        except Exception as exc:
            self._action_failed(action, exc)
            if in_transition:
                return None
            return error_event(config)
        if not event or in_transition:
            return None
        return str(event)

    def _build(self, action: ActionSpec) -> BaseAction:
        """An instance of the action, its placeholders filled from the context now."""
        cls = self.registry.get(action.type)
        config = static_config(action, self.table.memo)  # (the action copies it)
        if config is None:
            config = action_config(action.config, self.context, cls.RAW_KEYS)
        instance: BaseAction = cls(config)
        instance.host = self.host
        return instance

    def _action_failed(self, action: ActionSpec, exc: BaseException) -> None:
        self.errors += 1
        message = f"action {action.type!r} failed: {type(exc).__name__}: {exc}"
        if isinstance(exc, StateMachineError):
            message = f"action {action.type!r} failed: {exc}"
        logger.warning("[%s] %s (state %r, %s)", self.name, message, self.state, action.path)
        report = functools.partial(
            self.host.report_error, traceback="".join(traceback.format_exception(exc))
        )
        record_failure(self.context, action.type, message, report)
