"""Machines as trio actors: the runtime and the refs through which machines are reached.

The actor and host classes are internal: a machine is reached through its :class:`ActorRef`,
and an action through ``BaseAction.host`` (the :class:`~statemachine_engine.actions.ActionHost`
protocol).
"""

from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._ref import ActorRef, ActorStatistics
from statemachine_engine.actors._runtime import Runtime, open_runtime
from statemachine_engine.actors._spawner import resolve_config_path

__all__ = [
    "ActorRef",
    "ActorStatistics",
    "ChildRequest",
    "ProcessLauncher",
    "Runtime",
    "open_runtime",
    "resolve_config_path",
]
