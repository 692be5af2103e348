"""Machine configuration: YAML loading, typed models and interpolation.

Names are imported on first use: a start served from the configuration cache needs the
models, not the YAML parser or the cattrs converter that built them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ARG_PREFIX": "statemachine_engine.config._shell_command",
    "CONVENTIONAL_FINAL_STATES": "statemachine_engine.config._models",
    "DUPLICATE": "statemachine_engine.config._yaml",
    "EVENT_KEYS": "statemachine_engine.config._shape",
    "KNOWN_FILTERS": "statemachine_engine.config._interpolate",
    "TOP_LEVEL_KEYS": "statemachine_engine.config._shape",
    "TRANSITION_KEYS": "statemachine_engine.config._shape",
    "WILDCARD": "statemachine_engine.config._models",
    "ActionSpec": "statemachine_engine.config._models",
    "CachedStart": "statemachine_engine.config._cache",
    "EventSpec": "statemachine_engine.config._models",
    "MachineSpec": "statemachine_engine.config._models",
    "Path": "statemachine_engine.config._yaml",
    "Positions": "statemachine_engine.config._yaml",
    "ShellCommand": "statemachine_engine.config._shell_command",
    "ShellHazard": "statemachine_engine.config._shell_command",
    "StartCache": "statemachine_engine.config._cache",
    "Transition": "statemachine_engine.config._models",
    "UnsafeCommand": "statemachine_engine.config._shell_command",
    "action_param": "statemachine_engine.config._models",
    "build_spec": "statemachine_engine.config._load",
    "comment_state_groups": "statemachine_engine.config._yaml",
    "default_cache_dir": "statemachine_engine.config._cache",
    "fallbacks": "statemachine_engine.config._interpolate",
    "format_path": "statemachine_engine.config._yaml",
    "interpolate": "statemachine_engine.config._interpolate",
    "load_config": "statemachine_engine.config._load",
    "load_config_text": "statemachine_engine.config._load",
    "load_yaml": "statemachine_engine.config._yaml",
    "placeholders": "statemachine_engine.config._interpolate",
    "position_of": "statemachine_engine.config._yaml",
    "resolve_fallbacks": "statemachine_engine.config._interpolate",
    "resolve_path": "statemachine_engine.config._interpolate",
    "shell_command": "statemachine_engine.config._shell_command",
    "shell_hazards": "statemachine_engine.config._shell_command",
    "timeout_seconds": "statemachine_engine.config._models",
}

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
    "CachedStart",
    "EventSpec",
    "MachineSpec",
    "Path",
    "Positions",
    "ShellCommand",
    "ShellHazard",
    "StartCache",
    "Transition",
    "UnsafeCommand",
    "action_param",
    "build_spec",
    "comment_state_groups",
    "default_cache_dir",
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

if TYPE_CHECKING:
    from statemachine_engine.config._cache import CachedStart, StartCache, default_cache_dir
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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
