"""Machines as trio actors: the runtime, machine actors and their refs."""

from statemachine_engine.actors._host import MachineHost
from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._machine import MachineActor
from statemachine_engine.actors._ref import ActorRef, ActorStatistics
from statemachine_engine.actors._runtime import Runtime, open_runtime
from statemachine_engine.actors._spawner import resolve_config_path

__all__ = [
    "ActorRef",
    "ActorStatistics",
    "ChildRequest",
    "MachineActor",
    "MachineHost",
    "ProcessLauncher",
    "Runtime",
    "open_runtime",
    "resolve_config_path",
]
