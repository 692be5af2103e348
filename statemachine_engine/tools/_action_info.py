"""What the checker knows about each action type: required keys, known keys, returned events.

The source of truth is the action classes themselves (``REQUIRED``, ``KEYS`` and ``EVENTS``
class attributes, read through the action registry). For built-in types whose class does not
say, a table of the published package's keys and events fills in. Custom actions are imported
from ``--actions-dir`` the same way the runtime imports them; a file that fails to import is
reported, not raised.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from statemachine_engine.actions import BaseAction, get_registry
from statemachine_engine.actions.builtin import ALIASES, BUILTIN_ACTIONS
from statemachine_engine.errors import ConfigError

logger = logging.getLogger(__name__)

#: Keys every action may carry, whatever its type.
COMMON_KEYS = frozenset(
    {
        "type",
        "description",
        "success",
        "error",
        "params",
        "repeatable",
        "run_policy",
        "repeat_interval",
        "fire_and_forget",
        "error_mappings",
        "timeout",
    }
)

#: Actions after which a job's fields are in the context (``{job_id}``, data fields, ...).
JOB_CLAIMING_TYPES = frozenset({"check_database_queue", "claim_job"})


@attrs.frozen
class ActionInfo:
    """``required`` holds alternatives: ``(("target_machine", "target"), ("event_type",))``
    means one of target_machine/target, and event_type. ``keys`` is None when unknown (then
    no key is reported as unknown). ``events`` maps outcome keys to default event names."""

    type: str
    builtin: bool
    required: tuple[tuple[str, ...], ...] = ()
    keys: frozenset[str] | None = None
    events: Mapping[str, str | None] = attrs.field(factory=dict)
    #: the class could not be imported (custom actions); the message says why
    load_error: str | None = None
    #: the class (None: known from the published package's table only)
    cls: builtins.type[BaseAction] | None = None


def _alternatives(entries: Iterable[Any]) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append(tuple(p.strip() for p in entry.split("|") if p.strip()))
        elif isinstance(entry, tuple | list):
            out.append(tuple(str(p) for p in entry))
    return tuple(o for o in out if o)


def _row(
    required: Iterable[Any] = (), keys: Iterable[str] = (), **events: str | None
) -> tuple[tuple[tuple[str, ...], ...], frozenset[str], dict[str, str | None]]:
    return _alternatives(required), frozenset(keys), dict(events)


#: The published package's built-ins (UPSTREAM-NOTES §3), used where a class says nothing.
FALLBACK: dict[str, tuple[tuple[tuple[str, ...], ...], frozenset[str], dict[str, str | None]]] = {
    "log": _row((), ("message", "level"), success=None),
    "sleep": _row((), ("duration",), success="wake_up"),
    "bash": _row(("command",), ("command",), success="job_done"),
    "send_event": _row(
        ("target_machine|target",),
        ("target_machine", "target", "event_type", "payload", "job_id"),
        success="event_sent",
    ),
    "start_fsm": _row(
        ("yaml_path", "machine_name"),
        ("yaml_path", "machine_name", "context_vars", "additional_args", "store_pid"),
        success="success",
    ),
    "check_database_queue": _row(
        (), ("job_type", "machine_type"), success="new_job", empty="no_jobs"
    ),
    "get_pending_jobs": _row(
        (),
        ("job_type", "machine_type", "limit", "store_as"),
        success="jobs_found",
        empty="no_jobs",
    ),
    "claim_job": _row(
        ("job_id",), ("job_id",), success="claimed", already_claimed="already_claimed"
    ),
    "complete_job": _row((), ("job_id",), success="success"),
    "wait_for_jobs": _row(
        (),
        ("tracked_jobs_key", "poll_interval"),
        success="all_jobs_complete",
        pending=None,
        timeout_event=None,
    ),
    "add_to_list": _row(("value",), ("list_key", "value"), success="success"),
    "pop_from_list": _row((), ("list_key", "store_as"), success="item_popped", empty="list_empty"),
    "set_context": _row(("key", "value"), ("key", "value"), success="success"),
    "clear_events": _row(
        (), ("event_types", "target_machine"), success="events_cleared", empty="no_events_to_clear"
    ),
    "check_machine_state": _row(
        (),
        ("target_machine", "expected_states", "timeout_seconds"),
        success="in_expected_state",
        unexpected="unexpected_state",
        not_running="not_running",
    ),
}


def _declared(cls: type, name: str) -> Any:
    """A class attribute set by the class or an ancestor below BaseAction, else None."""
    for klass in cls.__mro__:
        if klass is BaseAction or klass is object:
            return None
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _from_class(action_type: str, cls: type[BaseAction], builtin: bool) -> ActionInfo:
    canonical = ALIASES.get(action_type, action_type)
    fb_required, fb_keys, fb_events = FALLBACK.get(canonical, ((), frozenset(), {}))
    required = _declared(cls, "REQUIRED")
    keys = _declared(cls, "KEYS")
    events = _declared(cls, "EVENTS")
    # The published package's requirements hold unless the class demands more: a class may
    # leave out a pair such as target_machine|target that it cannot name as one key.
    req = tuple(dict.fromkeys((*_alternatives(required or ()), *fb_required)))
    evs: dict[str, str | None] = dict(fb_events) if builtin else {}
    if isinstance(events, Mapping):
        evs.update({str(k): (str(v) if v is not None else None) for k, v in events.items()})
    known: frozenset[str] | None = None
    if builtin or keys is not None:
        known = (
            COMMON_KEYS
            | frozenset(keys or ())
            | frozenset(k for alt in req for k in alt)
            | frozenset(evs)
        )
        if builtin:
            known |= fb_keys
    return ActionInfo(action_type, builtin, req, known, evs, cls=cls)


def _from_fallback(action_type: str) -> ActionInfo:
    required, keys, events = FALLBACK[ALIASES.get(action_type, action_type)]
    known = COMMON_KEYS | keys | frozenset(events) | {k for alt in required for k in alt}
    return ActionInfo(action_type, True, required, known, events)


class ActionCatalog:
    """Action types known to a run of the checker: built-ins plus the given actions folders.

    Folders are searched in order; a custom type in any of them overrides a built-in.
    """

    def __init__(self, actions_dirs: Iterable[str | Path] = ()) -> None:
        self._dirs = [Path(d) for d in actions_dirs]
        self._cache: dict[tuple[str, tuple[Path, ...]], ActionInfo | None] = {}

    def lookup(self, action_type: str, extra_dirs: Iterable[Path] = ()) -> ActionInfo | None:
        """What is known about ``action_type``, or None when no folder or built-in has it."""
        dirs = tuple([*self._dirs, *extra_dirs])
        key = (action_type, dirs)
        if key not in self._cache:
            self._cache[key] = self._lookup(action_type, dirs)
        return self._cache[key]

    def types(self, extra_dirs: Iterable[Path] = ()) -> set[str]:
        found = {*BUILTIN_ACTIONS, *ALIASES}
        for d in (*self._dirs, *extra_dirs):
            try:
                found |= set(get_registry(d).custom)
            except ConfigError:
                continue
        return found

    def _lookup(self, action_type: str, dirs: tuple[Path, ...]) -> ActionInfo | None:
        for d in dirs:
            try:
                registry = get_registry(d)
            except ConfigError:
                continue  # a missing folder is reported once by the caller
            if action_type in registry.custom:
                try:
                    return _from_class(action_type, registry.get(action_type), builtin=False)
                except ConfigError as exc:
                    reason = str(exc.issues[0].message) if exc.issues else str(exc)
                    last = reason.strip().splitlines()[-1] if reason.strip() else reason
                    return ActionInfo(action_type, False, load_error=last)
        if action_type not in BUILTIN_ACTIONS and action_type not in ALIASES:
            return None
        try:
            cls = get_registry(None).get(action_type)
        except (ConfigError, ImportError, AttributeError) as exc:
            # The built-in's module is listed but not importable (yet): use the table.
            logger.debug("built-in action %r not importable: %s", action_type, exc)
            if ALIASES.get(action_type, action_type) in FALLBACK:
                return _from_fallback(action_type)
            return ActionInfo(action_type, True)
        return _from_class(action_type, cls, builtin=True)
