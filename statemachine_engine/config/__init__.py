"""Machine configuration: YAML loading, typed models and interpolation."""

from statemachine_engine.config._interpolate import (
    KNOWN_FILTERS,
    fallbacks,
    interpolate,
    placeholders,
    resolve_fallbacks,
    resolve_path,
)
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
from statemachine_engine.config._shape import EVENT_KEYS, TOP_LEVEL_KEYS, TRANSITION_KEYS
from statemachine_engine.config._shell_command import (
    ARG_PREFIX,
    ShellCommand,
    ShellHazard,
    UnsafeCommand,
    shell_command,
    shell_hazards,
)
from statemachine_engine.config._yaml import (
    DUPLICATE,
    Path,
    Positions,
    comment_state_groups,
    format_path,
    load_yaml,
    position_of,
)

__all__ = [
    "ARG_PREFIX",
    "CONVENTIONAL_FINAL_STATES",
    "DUPLICATE",
    "EVENT_KEYS",
    "KNOWN_FILTERS",
    "TOP_LEVEL_KEYS",
    "TRANSITION_KEYS",
    "WILDCARD",
    "ActionSpec",
    "EventSpec",
    "MachineSpec",
    "Path",
    "Positions",
    "ShellCommand",
    "ShellHazard",
    "Transition",
    "UnsafeCommand",
    "action_param",
    "build_spec",
    "comment_state_groups",
    "fallbacks",
    "format_path",
    "interpolate",
    "load_config",
    "load_config_text",
    "load_yaml",
    "placeholders",
    "position_of",
    "resolve_fallbacks",
    "resolve_path",
    "shell_command",
    "shell_hazards",
    "timeout_seconds",
]
