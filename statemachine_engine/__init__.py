"""statemachine-engine: event-driven state machines from YAML on a trio actor runtime.

The public names are imported lazily, so that the short command-line tools (such as
``statemachine-db``) never pay for importing trio or the runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "2.0.0.dev0"

_EXPORTS: dict[str, str] = {
    "ActionSpec": "statemachine_engine.config",
    "ActorRef": "statemachine_engine.actors",
    "ActorStopped": "statemachine_engine.errors",
    "BaseAction": "statemachine_engine.actions",
    "ConfigError": "statemachine_engine.errors",
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
    from statemachine_engine.errors import ActorStopped, ConfigError, StateMachineError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'statemachine_engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
