"""Structure checks (S family): declared states and events, duplicates, timeouts, unknown keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from statemachine_engine.config import (
    DUPLICATE,
    EVENT_KEYS,
    TOP_LEVEL_KEYS,
    TRANSITION_KEYS,
    WILDCARD,
    Path,
    format_path,
    timeout_seconds,
)
from statemachine_engine.tools._document import Document
from statemachine_engine.tools._findings import Finding
from statemachine_engine.tools._suggest import closest, did_you_mean, listing

#: how close an unknown key must be to a missing known one to be taken as its misspelling
_MISSPELT = 0.85
_TIMEOUT_LIKE = re.compile(r"^\s*timeout\s*\(", re.IGNORECASE)


def check_structure(doc: Document) -> None:
    assert doc.data is not None and doc.spec is not None
    data, spec = doc.data, doc.spec
    _duplicate_keys(doc)
    _unknown_keys(doc, data)

    states_declared = bool(spec.states)  # as the loader: an empty list declares nothing
    declared = set(spec.states)
    if not states_declared:
        if spec.transitions or spec.actions:
            doc.report(
                "S012",
                "warning",
                (),
                f"no states: list; the states are taken from the transitions "
                f"({listing(spec.all_states)}), so a misspelt name cannot be caught",
                "add states: [" + ", ".join(spec.all_states[:6]) + ", ...]",
            )
    else:
        _declared_states(doc, data["states"])
        _initial_state(doc, data, declared)
        _transition_states(doc, declared)
        for state in spec.actions:
            if state not in declared:
                doc.report(
                    "S004",
                    "error",
                    ("actions", state),
                    f"actions for undeclared state {state!r}{did_you_mean(state, declared)}",
                    "declare the state under states: or correct the name",
                    key=True,
                )
        finals = data.get("final_states")
        for state in finals if isinstance(finals, list) else []:
            if isinstance(state, str) and state not in declared:
                doc.report(
                    "S005",
                    "error",
                    ("final_states",),
                    f"final state {state!r} is not declared in states"
                    f"{did_you_mean(state, declared)}",
                    "declare it under states: or correct the name",
                )
    _events(doc, data)
    _duplicates(doc)


def _duplicate_keys(doc: Document) -> None:
    """YAML lets a later key silently replace an earlier one (two ``actions:`` blocks...);
    the loader marks each repeated key in the positions it keeps."""
    for where, (line, column) in doc.positions.items():
        if not where or where[-1] != DUPLICATE:
            continue
        *parent, name = where[:-1]
        doc.findings.append(
            Finding(
                "S015",
                "error",
                f"key {name!r} appears twice in {format_path(tuple(parent))}; the second "
                "one silently replaces the first",
                doc.file,
                line,
                column,
                format_path(where[:-1]),
                "merge the two entries into one",
            )
        )


def _unknown_keys(doc: Document, data: Mapping[str, Any]) -> None:
    def check(path: Path, keys: Any, valid: tuple[str, ...], where: str) -> None:
        for key in keys:
            if str(key) in valid:
                continue
            meant = closest(str(key), valid, cutoff=_MISSPELT)
            if meant is not None and meant not in keys:
                # ``transition:`` for ``transitions:``: the machine silently loses what the
                # author wrote (a worker with no transitions), so it cannot be a warning
                doc.report(
                    "S010",
                    "error",
                    (*path, str(key)),
                    f"unknown key {key!r} in {where}: did you mean {meant!r}? There is no "
                    f"{meant!r}, so what is written under {key!r} would be ignored",
                    f"rename it to {meant}",
                    key=True,
                )
                continue
            doc.report(
                "S010",
                "warning",
                (*path, str(key)),
                f"unknown key {key!r} in {where} is ignored{did_you_mean(str(key), valid)}",
                f"remove it or use one of: {', '.join(valid)}",
                key=True,
            )

    check((), data, TOP_LEVEL_KEYS, "the configuration")
    transitions = data.get("transitions")
    for i, t in enumerate(transitions if isinstance(transitions, list) else []):
        if isinstance(t, Mapping):
            check(("transitions", i), t, TRANSITION_KEYS, "a transition")
    events = data.get("events")
    if isinstance(events, Mapping):
        for name, body in events.items():
            if isinstance(body, Mapping):
                check(("events", str(name)), body, EVENT_KEYS, f"event {name!r}")


def _declared_states(doc: Document, raw: list[Any]) -> None:
    seen: set[str] = set()
    for i, state in enumerate(raw):
        if isinstance(state, str):
            if state in seen:
                doc.report(
                    "S011",
                    "error",
                    ("states", i),
                    f"state {state!r} is declared twice",
                    "remove the second entry",
                )
            seen.add(state)


def _initial_state(doc: Document, data: Mapping[str, Any], declared: set[str]) -> None:
    assert doc.spec is not None
    initial = doc.spec.initial_state
    if initial in declared:
        return
    if "initial_state" not in data:
        doc.report(
            "S001",
            "error",
            (),
            "initial_state is missing and the default 'waiting' is not a declared state",
            f"add initial_state: <one of {listing(declared)}>",
        )
    elif isinstance(data["initial_state"], str):
        doc.report(
            "S002",
            "error",
            ("initial_state",),
            f"initial state {initial!r} is not declared in states{did_you_mean(initial, declared)}",
            "declare it under states: or name a declared state",
        )


def _transition_states(doc: Document, declared: set[str]) -> None:
    assert doc.spec is not None
    for t in doc.spec.transitions:
        for j, state in enumerate(t.from_):
            if state != WILDCARD and state not in declared:
                where: Path = ("transitions", t.index, "from")
                if len(t.from_) > 1:
                    where = (*where, j)
                doc.report(
                    "S003",
                    "error",
                    where,
                    f"transition from undeclared state {state!r}{did_you_mean(state, declared)}",
                    "declare the state under states: or correct the name",
                )
        if t.to not in declared:
            hint = " ('*' is only special in from:)" if t.to == WILDCARD else ""
            doc.report(
                "S003",
                "error",
                ("transitions", t.index, "to"),
                f"transition to undeclared state {t.to!r}{did_you_mean(t.to, declared)}{hint}",
                "declare the state under states: or correct the name",
            )


def _events(doc: Document, data: Mapping[str, Any]) -> None:
    assert doc.spec is not None
    spec = doc.spec
    for t in spec.transitions:
        if _TIMEOUT_LIKE.match(t.event) and timeout_seconds(t.event) is None:
            doc.report(
                "S009",
                "error",
                ("transitions", t.index, "event"),
                f"malformed timeout event {t.event!r}",
                "write timeout(N) with N a number of seconds, e.g. timeout(5) or timeout(2.5)",
            )
    used = {t.event for t in spec.transitions}
    if not isinstance(data.get("events"), list | Mapping):
        plain = sorted(e for e in used if timeout_seconds(e) is None)
        if plain:
            doc.report(
                "S013",
                "warning",
                (),
                f"no events: list; the events are taken from the transitions ({listing(plain)})",
                "add events: [" + ", ".join(plain[:6]) + ", ...] so misspelt events are caught",
            )
        return
    declared = set(spec.events)
    for t in spec.transitions:
        if t.event in declared or timeout_seconds(t.event) is not None:
            continue
        if _TIMEOUT_LIKE.match(t.event):
            continue  # reported as malformed above
        doc.report(
            "S006",
            "error",
            ("transitions", t.index, "event"),
            f"event {t.event!r} is not declared in events{did_you_mean(t.event, declared)}",
            "declare it under events: or correct the name (timeout(N) never needs declaring)",
        )
    raw = data["events"]
    names = list(raw) if isinstance(raw, Mapping) else raw
    for i, name in enumerate(names):
        if isinstance(name, str) and name not in used:
            path: Path = ("events", name) if isinstance(raw, Mapping) else ("events", i)
            doc.report(
                "S014",
                "warning",
                path,
                f"event {name!r} is declared but no transition uses it; when it arrives it is "
                "recorded as unhandled and dropped",
                "add a transition on it, or remove it from events:",
                key=isinstance(raw, Mapping),
            )


def _duplicates(doc: Document) -> None:
    assert doc.spec is not None
    first: dict[tuple[str, str], int] = {}
    by_index = {t.index: t for t in doc.spec.transitions}
    for t in doc.spec.transitions:
        for state in dict.fromkeys(t.from_):
            key = (state, t.event)
            if key not in first:
                first[key] = t.index
                continue
            earlier = by_index[first[key]]
            src = "any state ('*')" if state == WILDCARD else repr(state)
            if earlier.to == t.to:
                doc.report(
                    "S007",
                    "error",
                    ("transitions", t.index),
                    f"duplicate transition: {src} --{t.event}--> {t.to!r} is already "
                    f"transitions[{earlier.index}]",
                    "remove one of them",
                )
            else:
                doc.report(
                    "S008",
                    "error",
                    ("transitions", t.index),
                    f"this transition never fires: from {src}, event {t.event!r} already goes "
                    f"to {earlier.to!r} (transitions[{earlier.index}], the first in file order "
                    "wins)",
                    "remove it, or use a different event",
                )
