"""The seam through which a runtime starts machines as operating-system processes.

A runtime cannot start a process by itself: the command that runs it knows the database,
the socket paths and the log folder. It hands the runtime a :class:`ProcessLauncher`
before the runtime is built; ``start_fsm`` with ``process: true`` then goes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from statemachine_engine.actors._ref import ActorRef


class ChildRequest:
    """One machine to start in a process of its own.

    ``parent``: the machine that asked (None for a machine a project starts); it gets
    ``on_done`` when the process exits cleanly, ``error`` otherwise. ``report_error``
    records a failure as the parent's action error (``last_error``, error history,
    monitor): called with (action type, message). ``durable``: the machine is durable
    although its YAML may not say so (a project's ``durable:``); ``fresh``: discard its
    durable checkpoint and start at its initial state.
    """

    __slots__ = (
        "config_path",
        "context",
        "durable",
        "fresh",
        "name",
        "on_done",
        "parent",
        "report_error",
    )

    def __init__(
        self,
        config_path: str,
        name: str,
        context: Mapping[str, Any] | None = None,
        parent: ActorRef | None = None,
        on_done: str | None = None,
        report_error: Callable[[str, str], None] | None = None,
        durable: bool = False,
        fresh: bool = False,
    ) -> None:
        self.config_path = config_path
        self.name = name
        self.context: Mapping[str, Any] = {} if context is None else context
        self.parent = parent
        self.on_done = on_done
        self.report_error = report_error
        self.durable = durable
        self.fresh = fresh


class ProcessLauncher(Protocol):
    async def launch(self, request: ChildRequest) -> None:
        """Start the process and return once its machine can receive events; raises
        StateMachineError (saying why, from its log) when it cannot start."""
        ...
