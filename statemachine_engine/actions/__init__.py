"""Actions: the base class custom actions subclass, discovery, and the built-ins."""

from statemachine_engine.actions._base import ActionHost, BaseAction
from statemachine_engine.actions._loader import (
    ActionRegistry,
    available_action_types,
    class_name,
    discover,
    get_registry,
    type_name,
)
from statemachine_engine.actions._realtime import real_work

__all__ = [
    "ActionHost",
    "ActionRegistry",
    "BaseAction",
    "available_action_types",
    "class_name",
    "discover",
    "get_registry",
    "real_work",
    "type_name",
]
