"""Machine configuration: YAML loading, typed models and interpolation."""

from statemachine_engine.config._interpolate import interpolate, interpolate_shell, resolve_path
from statemachine_engine.config._load import build_spec, load_config, load_config_text
from statemachine_engine.config._models import (
    CONVENTIONAL_FINAL_STATES,
    WILDCARD,
    ActionSpec,
    EventSpec,
    MachineSpec,
    Transition,
    action_param,
    timeout_seconds,
)
from statemachine_engine.config._yaml import comment_state_groups, load_yaml

__all__ = [
    "CONVENTIONAL_FINAL_STATES",
    "WILDCARD",
    "ActionSpec",
    "EventSpec",
    "MachineSpec",
    "Transition",
    "action_param",
    "build_spec",
    "comment_state_groups",
    "interpolate",
    "interpolate_shell",
    "load_config",
    "load_config_text",
    "load_yaml",
    "resolve_path",
    "timeout_seconds",
]
