"""statemachine-engine: event-driven state machines from YAML on a trio actor runtime.

The public names are imported lazily, so that the short command-line tools (such as
``statemachine-db``) never pay for importing trio or the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports

__version__ = "2.0.0.dev0"

_EXPORTS: dict[str, str] = {
    "ActionSpec": "statemachine_engine.config",
    "ActorRef": "statemachine_engine.actors",
    "ActorStopped": "statemachine_engine.errors",
    "BaseAction": "statemachine_engine.actions",
    "ConfigError": "statemachine_engine.errors",
    "Database": "statemachine_engine.database",
    "JobModel": "statemachine_engine.database",
    "MachineSpec": "statemachine_engine.config",
    "Runtime": "statemachine_engine.actors",
    "StateMachineEngine": "statemachine_engine.core.engine",
    "StateMachineError": "statemachine_engine.errors",
    "load_config": "statemachine_engine.config",
    "open_runtime": "statemachine_engine.actors",
}

__all__ = [
    "ActionSpec",
    "ActorRef",
    "ActorStopped",
    "BaseAction",
    "ConfigError",
    "Database",
    "JobModel",
    "MachineSpec",
    "Runtime",
    "StateMachineEngine",
    "StateMachineError",
    "__version__",
    "load_config",
    "open_runtime",
]

if TYPE_CHECKING:
    from statemachine_engine.actions import BaseAction
    from statemachine_engine.actors import ActorRef, Runtime, open_runtime
    from statemachine_engine.config import ActionSpec, MachineSpec, load_config
    from statemachine_engine.core.engine import StateMachineEngine
    from statemachine_engine.database import Database, JobModel
    from statemachine_engine.errors import ActorStopped, ConfigError, StateMachineError


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
