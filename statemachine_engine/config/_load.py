"""Loading a machine configuration: YAML -> shapes -> typed model (cattrs) -> semantic checks.

Every problem found is collected and reported at once in one :class:`ConfigError`; keys the
model does not know are kept and reported as warnings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from pathlib import Path as FsPath
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from statemachine_engine.config._checks import check_semantics
from statemachine_engine.config._checks import choices as _choices
from statemachine_engine.config._models import (
    CONVENTIONAL_FINAL_STATES,
    ActionSpec,
    EventSpec,
    MachineSpec,
    Transition,
)
from statemachine_engine.config._yaml import (
    Path,
    Positions,
    comment_state_groups,
    format_path,
    load_yaml,
    position_of,
)
from statemachine_engine.errors import ConfigError, ConfigIssue

TOP_LEVEL_KEYS = (
    "name",
    "description",
    "metadata",
    "initial_state",
    "states",
    "events",
    "transitions",
    "actions",
    "template",
    "final_states",
    "state_groups",
    "known_context",
    "actions_root",
)
TRANSITION_KEYS = ("from", "to", "event", "actions", "description", "guard_description")
EVENT_KEYS = ("context_map", "description")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {_describe(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {_describe(value)}")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(
        Transition,
        cattrs.gen.make_dict_structure_fn(
            Transition,
            conv,
            from_=cattrs.gen.override(rename="from"),
            index=cattrs.gen.override(omit=True),
            line=cattrs.gen.override(omit=True),
            _cattrs_forbid_extra_keys=True,
        ),
    )
    conv.register_structure_hook(
        ActionSpec,
        cattrs.gen.make_dict_structure_fn(
            ActionSpec,
            conv,
            path=cattrs.gen.override(omit=True),
            line=cattrs.gen.override(omit=True),
        ),
    )
    return conv


_converter = _make_converter()


class _Collector:
    def __init__(self, file: str | None, positions: Positions) -> None:
        self.file = file
        self.positions = positions
        self.issues: list[ConfigIssue] = []

    def add(self, path: Path, message: str, *, severity: str = "error", key: bool = False) -> None:
        where = (*path, "<key>") if key and (*path, "<key>") in self.positions else path
        line, column = position_of(self.positions, where)
        self.issues.append(
            ConfigIssue(
                message,
                path=format_path(path),
                file=self.file,
                line=line,
                column=column,
                severity=severity,
            )
        )

    def line(self, path: Path) -> int | None:
        return position_of(self.positions, path)[0]


def load_config(
    path: str | FsPath,
    *,
    actions_dir: str | FsPath | None = None,
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Read and check a machine's YAML file.

    Action types are checked against the built-in actions plus those found in ``actions_dir``
    (or against ``known_actions`` when given). Raises :class:`ConfigError` listing every error.
    """
    file = str(path)
    try:
        text = FsPath(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {file}", file=file) from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file: {exc.strerror}", file=file) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"configuration file is not UTF-8 text: {exc}", file=file) from None
    if known_actions is None:
        from statemachine_engine.actions import available_action_types

        known_actions = available_action_types(actions_dir)
    return load_config_text(
        text, file=file, config_type=FsPath(path).stem, known_actions=known_actions
    )


def load_config_text(
    text: str,
    *,
    file: str | None = None,
    config_type: str | None = None,
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Like :func:`load_config`, from YAML text. ``known_actions=None`` skips the type check."""
    data, positions = load_yaml(text, file)
    return build_spec(
        data,
        positions=positions,
        text=text,
        file=file,
        config_type=config_type or (FsPath(file).stem if file else "machine"),
        known_actions=known_actions,
    )


def build_spec(
    data: Any,
    *,
    positions: Positions | None = None,
    text: str | None = None,
    file: str | None = None,
    config_type: str = "machine",
    known_actions: Collection[str] | None = None,
) -> MachineSpec:
    """Check a parsed document and build its :class:`MachineSpec`."""
    out = _Collector(file, positions or {})
    if not isinstance(data, Mapping):
        out.add((), f"a machine configuration must be a YAML mapping, got {_describe(data)}")
        raise ConfigError(out.issues, file=file)

    shaped, extra = _shape(data, out)
    spec = _structure(shaped, out)
    spec = _finish(spec, data, shaped, text, out, extra, file, config_type)
    check_semantics(spec, out, known_actions, has_initial="initial_state" in data)
    out.issues.sort(key=lambda i: (i.line or 0, i.column or 0))
    if any(i.severity == "error" for i in out.issues):
        raise ConfigError(out.issues, file=file)
    return attrs.evolve(spec, warnings=tuple(out.issues))


def _shape(data: Mapping[str, Any], out: _Collector) -> tuple[dict[str, Any], dict[str, Any]]:
    """Turn the written forms into the model's shapes (lists for ``from``, dicts for events)."""
    shaped: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            extra[str(key)] = value
            out.add(
                (str(key),),
                f"unknown key {key!r} is ignored{_choices(str(key), TOP_LEVEL_KEYS)}",
                severity="warning",
                key=True,
            )
            continue
        if value is None and key != "initial_state":
            continue
        shaped[key] = value

    if "actions_root" in shaped:
        extra["actions_root"] = shaped.pop("actions_root")

    for key in ("states", "final_states", "known_context"):
        if isinstance(shaped.get(key), str):
            # a lone name would be structured as a tuple of its characters
            out.add((key,), f"expected a list of names, got {_describe(shaped.pop(key))}")

    events = shaped.get("events")
    if isinstance(events, list):
        names: dict[str, Any] = {}
        for i, name in enumerate(events):
            if isinstance(name, str):
                names[name] = {"name": name}
            else:
                out.add(("events", i), f"an event name must be a string, got {_describe(name)}")
        shaped["events"] = names
    elif isinstance(events, Mapping):
        converted: dict[str, Any] = {}
        for name, body in events.items():
            entry: dict[str, Any] = {"name": str(name)}
            if isinstance(body, Mapping):
                for k in body:
                    if k not in EVENT_KEYS:
                        out.add(
                            ("events", str(name), str(k)),
                            f"unknown key {k!r} in event{_choices(str(k), EVENT_KEYS)}",
                            severity="warning",
                            key=True,
                        )
                if body.get("context_map") is not None:
                    entry["context_map"] = body["context_map"]
            elif body is not None:
                out.add(
                    ("events", str(name)), f"expected a mapping or nothing, got {_describe(body)}"
                )
            converted[str(name)] = entry
        shaped["events"] = converted

    transitions = shaped.get("transitions")
    if isinstance(transitions, list):
        shaped_transitions = []
        for i, t in enumerate(transitions):
            if not isinstance(t, Mapping):
                shaped_transitions.append(t)
                continue
            t = dict(t)
            for k in list(t):
                if k not in TRANSITION_KEYS:
                    out.add(
                        ("transitions", i, str(k)),
                        f"unknown key {k!r} in transition{_choices(str(k), TRANSITION_KEYS)}",
                        severity="warning",
                        key=True,
                    )
                    del t[k]
            t.pop("description", None)
            t.pop("guard_description", None)
            if isinstance(t.get("from"), str):
                t["from"] = [t["from"]]
            if "actions" in t:
                t["actions"] = _shape_actions(t["actions"], ("transitions", i, "actions"), out)
            shaped_transitions.append(t)
        shaped["transitions"] = shaped_transitions

    actions = shaped.get("actions")
    if isinstance(actions, Mapping):
        shaped["actions"] = {
            str(state): _shape_actions(lst, ("actions", str(state)), out)
            for state, lst in actions.items()
            if lst is not None
        }
    return shaped, extra


def _shape_actions(actions: Any, path: Path, out: _Collector) -> Any:
    if not isinstance(actions, list):
        return actions  # cattrs reports the wrong type
    shaped = []
    for i, action in enumerate(actions):
        if isinstance(action, Mapping):
            if "type" not in action:
                out.add((*path, i), "an action needs a 'type' key")
            shaped.append({"type": action.get("type", ""), "config": dict(action)})
        else:
            out.add((*path, i), f"expected a mapping with a 'type' key, got {_describe(action)}")
            shaped.append({"type": "", "config": {}})  # keeps the later actions' indexes
    return shaped


def _structure(shaped: dict[str, Any], out: _Collector) -> MachineSpec:
    """Structure piece by piece, so one bad transition does not hide the other problems:
    invalid items are reported and left out, and the semantic checks still run."""

    def attempt(value: Any, cls: Any, path: Path) -> Any:
        if cls in _ITEM_SHAPES and not isinstance(value, Mapping):
            out.add(path, f"expected {_ITEM_SHAPES[cls]}, got {_describe(value)}")
            return _INVALID
        try:
            return _converter.structure(value, cls)
        except (
            ClassValidationError,
            IterableValidationError,
            TypeError,
            ValueError,
            AttributeError,
        ) as exc:
            for sub, message in _walk_cattrs(exc, path):
                out.add(_original_path(sub, shaped), message)
            return _INVALID

    parts = dict(shaped)
    for key, cls in (("transitions", Transition), ("events", EventSpec)):
        value = parts.pop(key, None)
        if value is None:
            continue
        if key == "transitions" and not isinstance(value, list):
            out.add((key,), f"expected a list of transitions, got {_describe(value)}")
            continue
        if key == "events" and not isinstance(value, Mapping):
            out.add((key,), f"expected a list of event names or a mapping, got {_describe(value)}")
            continue
        items = enumerate(value) if key == "transitions" else value.items()
        results = [(k, attempt(v, cls, (key, k))) for k, v in items]
        valid = [(k, v) for k, v in results if v is not _INVALID]
        if key == "transitions":
            parts[key] = [attrs.evolve(v, index=k, line=out.line((key, k))) for k, v in valid]
        else:
            parts[key] = dict(valid)
    actions = parts.pop("actions", None)
    if actions is not None:
        if not isinstance(actions, Mapping):
            out.add(
                ("actions",),
                f"expected a mapping of state -> list of actions, got {_describe(actions)}",
            )
        else:
            built_actions: dict[str, list[ActionSpec]] = {}
            for state, lst in actions.items():
                if not isinstance(lst, list):
                    out.add(("actions", state), f"expected a list of actions, got {_describe(lst)}")
                    continue
                built_actions[state] = [
                    _placed(action, ("actions", state, i), out)
                    for i, a in enumerate(lst)
                    if (action := attempt(a, ActionSpec, ("actions", state, i))) is not _INVALID
                ]
            parts["actions"] = built_actions
    structured = {k: parts.pop(k) for k in ("transitions", "events", "actions") if k in parts}
    spec = attempt(parts, MachineSpec, ())
    if spec is _INVALID:
        bad = {p[0] for p in _bad_fields(out)}
        spec = attempt({k: v for k, v in parts.items() if k not in bad}, MachineSpec, ())
    built: MachineSpec = spec if isinstance(spec, MachineSpec) else MachineSpec()
    transitions = tuple(structured.get("transitions", ()))
    return attrs.evolve(
        built,
        transitions=transitions,
        events=structured.get("events", {}),
        actions={k: tuple(v) for k, v in structured.get("actions", {}).items()},
    )


_INVALID = object()
#: what a list item must look like (a non-mapping would crash cattrs' generated code)
_ITEM_SHAPES: dict[type, str] = {Transition: "a mapping with from, to and event"}


def _placed(action: ActionSpec, path: Path, out: _Collector) -> ActionSpec:
    return attrs.evolve(action, path=format_path(path), line=out.line(path))


def _bad_fields(out: _Collector) -> list[Path]:
    return [tuple(i.path[2:].split(".")[:1]) for i in out.issues if i.path.startswith("$.")]


def _walk_cattrs(exc: BaseException, path: Path) -> Iterable[tuple[Path, str]]:
    if isinstance(exc, IterableValidationError):
        indexed, loose = exc.group_exceptions()
        for sub, index_note in indexed:
            yield from _walk_cattrs(sub, (*path, index_note.index))
        for sub in loose:
            yield path, _message(sub)
    elif isinstance(exc, ClassValidationError):
        named, unnamed = exc.group_exceptions()
        for sub, name_note in named:
            name = "from" if name_note.name == "from_" else name_note.name
            yield from _walk_cattrs(sub, (*path, name))
        for sub in unnamed:
            yield path, _message(sub)
    else:
        yield path, _message(exc)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return "required key is missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown keys: {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, AttributeError) and "items" in str(exc):
        return "expected a mapping here"
    if isinstance(exc, TypeError | ValueError):
        text = str(exc)
        if "object is not iterable" in text or "not subscriptable" in text:
            return "expected a list or mapping here"
        return text
    return f"{type(exc).__name__}: {exc}"


def _original_path(path: Path, shaped: Mapping[str, Any]) -> Path:
    """Map a path in the shaped document back to the written one."""
    if (len(path) >= 3 and path[0] == "actions") or (len(path) >= 5 and path[0] == "transitions"):
        # ...actions[i].config.<key> -> ...actions[i].<key>
        return tuple(p for p in path if p != "config")
    if len(path) >= 2 and path[0] == "events" and path[-1] == "name":
        return path[:-1]
    return path


def _finish(
    spec: MachineSpec,
    data: Mapping[str, Any],
    shaped: Mapping[str, Any],
    text: str | None,
    out: _Collector,
    extra: dict[str, Any],
    file: str | None,
    config_type: str,
) -> MachineSpec:
    transitions = tuple(
        attrs.evolve(
            t,
            actions=tuple(
                _placed(a, ("transitions", t.index, "actions", j), out)
                for j, a in enumerate(t.actions)
            ),
        )
        for t in spec.transitions
    )
    actions = spec.actions
    groups = dict(spec.state_groups) or (comment_state_groups(text) if text else {})
    initial = spec.initial_state
    if "initial_state" not in data:
        initial = "waiting"
    explicit_final = "final_states" in shaped
    final = spec.final_states
    if not explicit_final:
        named = set(spec.states) | {t.to for t in spec.transitions} | {initial}
        final = frozenset(CONVENTIONAL_FINAL_STATES & named)
    return attrs.evolve(
        spec,
        initial_state=initial,
        transitions=transitions,
        actions=actions,
        state_groups={g: tuple(s) for g, s in groups.items()},
        final_states=frozenset(final),
        extra=extra,
        source=file,
        config_type=config_type,
    )
