"""Machines as trio actors: the runtime and the refs through which machines are reached.

The actor and host classes are internal: a machine is reached through its :class:`ActorRef`,
and an action through ``BaseAction.host`` (the :class:`~statemachine_engine.actions.ActionHost`
protocol).
"""

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports
from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._ref import ActorRef
from statemachine_engine.actors._runtime import Runtime, open_runtime
from statemachine_engine.actors._spawner import resolve_config_path

if TYPE_CHECKING:
    from statemachine_engine.actors._statistics import ActorStatistics

__all__ = [
    "ActorRef",
    "ActorStatistics",
    "ChildRequest",
    "ProcessLauncher",
    "Runtime",
    "open_runtime",
    "resolve_config_path",
]

# an attrs class, built (its methods compiled) when it is first used, not at every start
__getattr__, __dir__ = lazy_exports(
    __name__, {"ActorStatistics": "statemachine_engine.actors._statistics"}
)
