"""The seam through which a runtime starts machines as operating-system processes.

A runtime cannot start a process by itself: the command that runs it knows the database,
the socket paths and the log folder. It hands the runtime a :class:`ProcessLauncher`
before the runtime is built; ``start_fsm`` with ``process: true`` then goes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

if TYPE_CHECKING:
    from statemachine_engine.actors._ref import ActorRef


@attrs.frozen
class ChildRequest:
    """One machine to start in a process of its own."""

    config_path: str
    name: str
    context: Mapping[str, Any] = attrs.field(factory=dict)
    #: the machine that asked (None for a machine a project starts): it gets ``on_done``
    #: when the process exits cleanly, ``error`` otherwise
    parent: ActorRef | None = None
    on_done: str | None = None
    #: records a failure as the parent's action error (``last_error``, error history,
    #: monitor): called with (action type, message)
    report_error: Callable[[str, str], None] | None = None
    #: the machine is durable although its YAML may not say so (a project's ``durable:``)
    durable: bool = False
    #: discard its durable checkpoint and start at its initial state
    fresh: bool = False


class ProcessLauncher(Protocol):
    async def launch(self, request: ChildRequest) -> None:
        """Start the process and return once its machine can receive events; raises
        StateMachineError (saying why, from its log) when it cannot start."""
        ...
