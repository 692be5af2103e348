"""What the runtime does with an action's mapping before and after running it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from statemachine_engine.config import interpolate

if TYPE_CHECKING:
    from statemachine_engine.config import ActionSpec

#: actions remembered per spec at most (a spec has as many as its YAML lists)
MEMO_LIMIT = 4096


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


def static_config(
    action: ActionSpec, memo: dict[int, tuple[ActionSpec, Any]]
) -> Mapping[str, Any] | None:
    """``action``'s mapping when interpolation cannot change it -- every value a number, a
    boolean, None or a string without ``{`` -- else None; worked out once per action and
    kept in ``memo`` (its table's: the spec outlives it, and the action is kept with its
    ``id`` so that an id reused by another object never matches)."""
    found = memo.get(id(action))
    if found is not None and found[0] is action:
        static: Mapping[str, Any] | None = found[1]
        return static
    config = action.config
    static = config if all(_plain(value) for value in config.values()) else None
    if len(memo) < MEMO_LIMIT:
        memo[id(action)] = (action, static)
    return static


def _plain(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, bool | int | float)
        or (isinstance(value, str) and "{" not in value)
    )
