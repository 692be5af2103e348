"""What the runtime does with an action's mapping before and after running it."""

from __future__ import annotations

from typing import Any

from statemachine_engine.config import interpolate


def error_event(config: Any) -> str:
    """The action's ``error:`` key (top level, else under ``params:``), else ``error``."""
    if not isinstance(config, dict):
        return "error"
    params = config.get("params")
    error = config.get("error") or (params.get("error") if isinstance(params, dict) else None)
    return str(error) if error else "error"


def action_config(
    config: Any, context: dict[str, Any], raw_keys: tuple[str, ...]
) -> dict[str, Any]:
    """The action's mapping with every value interpolated from ``context``, except the
    keys the action interpolates itself (``RAW_KEYS``, at the top level or under params)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in raw_keys:
            out[key] = value
        elif key == "params" and isinstance(value, dict) and raw_keys:
            out[key] = {
                k: v if k in raw_keys else interpolate(v, context) for k, v in value.items()
            }
        else:
            out[key] = interpolate(value, context)
    return out
