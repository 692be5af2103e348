"""The action API: what custom actions subclass, and what the runtime offers them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import trio

from statemachine_engine.config import action_param

if TYPE_CHECKING:
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.persistence import Store


class ActionHost(Protocol):
    """The running machine, as an action sees it (``self.host``)."""

    @property
    def machine_name(self) -> str: ...

    @property
    def spec(self) -> MachineSpec: ...

    @property
    def store(self) -> Store | None:
        """The runtime's store, or None when it runs without one."""
        ...

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Publish a machine event (``activity_log``, ``job_started``, ...) for this machine."""
        ...

    def log_activity(self, message: str, level: str = "info", **fields: Any) -> None:
        """Publish an ``activity_log`` event (shown in the monitor's activity log)."""
        ...

    def report_error(self, action: str, message: str) -> None:
        """Record a failure of ``action`` in the error history (``statemachine-db
        error-history``) and publish it as an ``error`` event, as the runtime does for an
        action that raises. For failures an action handles itself (a command's non-zero
        exit, an unreachable target) before it returns its error event."""
        ...

    async def send(
        self,
        target: str,
        event_type: str,
        payload: Any = None,
        *,
        job_id: str | None = None,
    ) -> None:
        """Deliver an event to a machine in this runtime or, through the transport, in another.

        Raises ActorStopped or TransportError when it cannot be delivered.
        """
        ...

    async def spawn(
        self,
        config_path: str,
        *,
        name: str,
        context: Mapping[str, Any] | None = None,
        on_done: str | None = None,
        process: bool = False,
    ) -> str:
        """Start a child machine; returns its name. ``on_done`` is sent back to this machine
        when the child reaches a final state."""
        ...

    def wall_time(self) -> float:
        """Wall-clock seconds since the epoch (virtual in simulation)."""
        ...


_LOGGERS: dict[type, logging.Logger] = {}


def _logger_of(cls: type) -> logging.Logger:
    """The logger of an action class, named after it (looked up once per class, not per
    run: an action is built anew every time it runs)."""
    logger = _LOGGERS.get(cls)
    if logger is None:
        logger = _LOGGERS[cls] = logging.getLogger(f"{cls.__module__}.{cls.__name__}")
    return logger


class BaseAction:
    """Base class of every action, built-in or custom.

    Compatible with the published package: ``self.config`` is the action's mapping from the
    YAML with placeholders already interpolated; ``execute(context)`` returns the name of the
    event to dispatch, or None. The action may change ``context``. Actions run under trio:
    use ``trio.sleep``, ``trio.run_process`` and friends, not asyncio.
    """

    #: outcome key -> default event name, for documentation and the linter
    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": None}
    #: keys an action of this type must have
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    #: running it again after a crash does no harm (a durable machine then need not commit
    #: that it starts before it runs it: one disk round trip less)
    RERUN_SAFE: ClassVar[bool] = False
    #: ``execute`` opens no cancel scope and no nursery before it first blocks: a machine
    #: starts it without the state's cancel scope and enters the scope only if it blocks
    #: (entering one costs as much as half a transition). Leave it False unless sure
    STARTS_UNSCOPED: ClassVar[bool] = False
    #: keys it reads besides the common ones (type, description, success, error, params)
    KEYS: ClassVar[tuple[str, ...]] = ()
    #: keys the runtime passes through without interpolation (the action interpolates them
    #: itself, as bash does for ``command`` to quote values for the shell)
    RAW_KEYS: ClassVar[tuple[str, ...]] = ()
    #: key -> how ``execute`` reads it: a function of the action that raises ValueError,
    #: saying what is wrong, for a value it cannot use. The checker (``statemachine-validate``,
    #: and ``statemachine CONFIG`` before it starts) calls it on every value written without
    #: placeholders, so a value that would fail at every run is an error at its line instead
    CHECKS: ClassVar[Mapping[str, Callable[[Any], object]]] = {}

    host: ActionHost

    def __init__(self, action_config: Mapping[str, Any]) -> None:
        self.config: dict[str, Any] = dict(action_config)
        self.logger = _logger_of(type(self))

    async def execute(self, context: dict[str, Any]) -> str | None:
        raise NotImplementedError(f"{type(self).__name__}.execute")

    async def until_worth_repeating(self, within: float, *, explicit: bool) -> None:
        """A ``repeatable`` action: wait until running it again may give something, at most
        ``within`` seconds (its ``repeat_interval``). The default waits the interval; an
        action that can be woken (a queue check: a job was added) waits for that instead,
        and then at most ``within`` seconds only when the interval was given
        (``explicit``)."""
        await trio.sleep(within)

    def get_description(self) -> str:
        return str(self.config.get("description") or f"{type(self).__name__} action")

    def get_config_value(self, key: str, default: Any = None) -> Any:
        """A key at the top level of the action, else under ``params:``, else ``default``."""
        return action_param(self.config, key, default)

    def event(self, key: str, default: str | None = None) -> str | None:
        """The event name configured under ``key`` (``success``, ``error``, ``empty`` ...)."""
        value = self.get_config_value(key, default)
        return str(value) if value not in (None, "") else None

    def get_machine_name(self, context: Mapping[str, Any]) -> str:
        return str(context.get("machine_name", "unknown"))
