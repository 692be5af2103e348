"""The typed model, built by one cattrs converter, with its errors at the paths as written.

A cattrs error becomes a message at the path the user wrote (``$.transitions[3].to``); an
invalid piece is left out so that the others are still checked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from statemachine_engine.config._issues import Collector, describe
from statemachine_engine.config._models import ActionSpec, EventSpec, MachineSpec, Transition
from statemachine_engine.config._yaml import Path, format_path


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {describe(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {describe(value)}")


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(detailed_validation=True, forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(bool, _strict_bool)
    names = conv.get_structure_hook(tuple[str, ...])

    def _names(value: Any, cls: Any) -> tuple[str, ...]:
        # a lone name would otherwise be a tuple of its characters: one error per character
        if isinstance(value, str | bytes):
            raise TypeError(f"expected a list of names, got {describe(value)[:80]}")
        return tuple(names(value, cls))

    conv.register_structure_hook_func(lambda t: t == tuple[str, ...], _names)
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
_INVALID = object()
#: what a list item must look like (a non-mapping would crash cattrs' generated code)
_ITEM_SHAPES: dict[type, str] = {Transition: "a mapping with from, to and event"}


def structure(shaped: dict[str, Any], out: Collector) -> MachineSpec:
    """Structure piece by piece, so one bad transition does not hide the other problems:
    invalid items are reported and left out, and the semantic checks still run."""

    def attempt(value: Any, cls: Any, path: Path) -> Any:
        if cls in _ITEM_SHAPES and not isinstance(value, Mapping):
            out.add(path, f"expected {_ITEM_SHAPES[cls]}, got {describe(value)}")
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
                out.add(_original_path(sub), message)
            return _INVALID

    parts = dict(shaped)
    for key, cls in (("transitions", Transition), ("events", EventSpec)):
        value = parts.pop(key, None)
        if value is None:
            continue
        if key == "transitions" and not isinstance(value, list):
            out.add((key,), f"expected a list of transitions, got {describe(value)}")
            continue
        if key == "events" and not isinstance(value, Mapping):
            out.add((key,), f"expected a list of event names or a mapping, got {describe(value)}")
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
                f"expected a mapping of state -> list of actions, got {describe(actions)}",
            )
        else:
            built_actions: dict[str, list[ActionSpec]] = {}
            for state, lst in actions.items():
                if not isinstance(lst, list):
                    out.add(("actions", state), f"expected a list of actions, got {describe(lst)}")
                    continue
                built_actions[state] = [
                    placed(action, ("actions", state, i), out)
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


def placed(action: ActionSpec, path: Path, out: Collector) -> ActionSpec:
    """``action`` with its YAML path and line, for run-time errors that point at the file."""
    return attrs.evolve(action, path=format_path(path), line=out.line(path))


def _bad_fields(out: Collector) -> list[Path]:
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


def _original_path(path: Path) -> Path:
    """Map a path in the shaped document back to the written one."""
    if (len(path) >= 3 and path[0] == "actions") or (len(path) >= 5 and path[0] == "transitions"):
        # ...actions[i].config.<key> -> ...actions[i].<key>
        return tuple(p for p in path if p != "config")
    if len(path) >= 2 and path[0] == "events" and path[-1] == "name":
        return path[:-1]
    return path
