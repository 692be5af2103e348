"""One configuration file as the checker sees it: text, raw YAML with positions, a lenient spec.

The checker must report on files the loader rejects, so it does not depend on the loader
succeeding: :func:`read_document` parses the YAML itself and builds a best-effort
:class:`MachineSpec` from whatever is well formed (items of the wrong shape are left out; the
loader's own verdict on them is reported separately, see ``_lint_loader``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

import attrs

from statemachine_engine.config import (
    CONVENTIONAL_FINAL_STATES,
    ActionSpec,
    EventSpec,
    MachineSpec,
    Path,
    Positions,
    Transition,
    comment_state_groups,
    format_path,
    load_yaml,
    position_of,
)
from statemachine_engine.errors import ConfigError
from statemachine_engine.tools._findings import Finding, Severity


@attrs.define
class Document:
    """A file and everything known about it; ``spec`` is None when it is not a YAML mapping."""

    file: str
    text: str | None = None
    data: Mapping[str, Any] | None = None
    positions: Positions = attrs.field(factory=dict)
    spec: MachineSpec | None = None
    #: groups came from ``# === NAME ===`` comments rather than a ``state_groups:`` key
    comment_groups: bool = False
    #: the loader's spec of this file (what a runtime would run), once the checks ran;
    #: None when the loader rejects it
    loaded: MachineSpec | None = None
    findings: list[Finding] = attrs.field(factory=list)

    @property
    def folder(self) -> FsPath:
        return FsPath(self.file).parent

    def report(
        self,
        code: str,
        severity: Severity,
        path: Path,
        message: str,
        fix: str | None = None,
        *,
        key: bool = False,
    ) -> None:
        """Add a finding at ``path`` (at the key itself rather than its value when ``key``)."""
        where = (*path, "<key>") if key and (*path, "<key>") in self.positions else path
        line, column = position_of(self.positions, where)
        self.findings.append(
            Finding(code, severity, message, self.file, line, column, format_path(path), fix)
        )


def read_document(file: str | FsPath) -> Document:
    """Read and parse ``file``. Problems reading or parsing become F-family findings."""
    doc = Document(str(file))
    try:
        doc.text = FsPath(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        doc.report("F001", "error", (), "file not found", "check the path")
        return doc
    except IsADirectoryError:
        doc.report("F001", "error", (), "this is a directory", "name a YAML file")
        return doc
    except UnicodeDecodeError as exc:
        doc.report("F001", "error", (), f"not UTF-8 text ({exc.reason})", "save it as UTF-8")
        return doc
    except OSError as exc:
        doc.report("F001", "error", (), f"cannot read: {exc.strerror}", "check its permissions")
        return doc
    return parse_document(doc.text, doc.file, doc)


def parse_document(text: str, file: str, doc: Document | None = None) -> Document:
    """Parse YAML ``text`` (named ``file`` in findings) into a :class:`Document`."""
    doc = doc or Document(file, text)
    try:
        data, doc.positions = load_yaml(text, file)
    except ConfigError as exc:
        for issue in exc.issues:
            doc.findings.append(
                Finding(
                    "F002",
                    "error",
                    issue.message,
                    file,
                    issue.line,
                    issue.column,
                    "$",
                    "fix the YAML syntax at this position",
                )
            )
        return doc
    if not isinstance(data, Mapping):
        what = "empty" if data is None else f"a {type(data).__name__}, not a mapping"
        doc.report(
            "F003",
            "error",
            (),
            f"the document is {what}",
            "a machine configuration is a mapping with initial_state, states, events, "
            "transitions and actions",
        )
        return doc
    doc.data = data
    doc.spec, doc.comment_groups = lenient_spec(data, text, file, doc.positions)
    return doc


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _action(raw: Any, path: Path, positions: Positions) -> ActionSpec | None:
    if not isinstance(raw, Mapping):
        return None
    kind = raw.get("type")
    return ActionSpec(
        type=kind if isinstance(kind, str) else "",
        config=dict(raw),
        path=format_path(path),
        line=position_of(positions, path)[0],
    )


def _actions(raw: Any, path: Path, positions: Positions) -> tuple[ActionSpec, ...]:
    if not isinstance(raw, list):
        return ()
    found = (_action(a, (*path, i), positions) for i, a in enumerate(raw))
    return tuple(a for a in found if a is not None)


def lenient_spec(
    data: Mapping[str, Any], text: str, file: str, positions: Positions
) -> tuple[MachineSpec, bool]:
    """The machine as far as it is well formed, and whether groups came from comments."""
    initial = data.get("initial_state", "waiting")
    events: dict[str, EventSpec] = {}
    raw_events = data.get("events")
    if isinstance(raw_events, list):
        events = {e: EventSpec(e) for e in _strs(raw_events)}
    elif isinstance(raw_events, Mapping):
        for name, body in raw_events.items():
            cmap = body.get("context_map") if isinstance(body, Mapping) else None
            if isinstance(cmap, Mapping):
                cmap = {str(k): v for k, v in cmap.items() if isinstance(v, str)}
            else:
                cmap = {}
            events[str(name)] = EventSpec(str(name), cmap)

    transitions: list[Transition] = []
    raw_transitions = data.get("transitions")
    for i, t in enumerate(raw_transitions if isinstance(raw_transitions, list) else []):
        if not isinstance(t, Mapping):
            continue
        src = t.get("from")
        from_ = (src,) if isinstance(src, str) else tuple(_strs(src))
        to, event = t.get("to"), t.get("event")
        if not from_ or not isinstance(to, str) or not isinstance(event, str):
            continue
        acts = _actions(t.get("actions"), ("transitions", i, "actions"), positions)
        line = position_of(positions, ("transitions", i))[0]
        transitions.append(Transition(from_, to, event, acts, i, line))

    actions: dict[str, tuple[ActionSpec, ...]] = {}
    raw_actions = data.get("actions")
    if isinstance(raw_actions, Mapping):
        for state, lst in raw_actions.items():
            actions[str(state)] = _actions(lst, ("actions", str(state)), positions)

    raw_groups = data.get("state_groups")
    groups: dict[str, tuple[str, ...]] = {}
    from_comments = False
    if isinstance(raw_groups, Mapping):
        groups = {str(g): tuple(_strs(s)) for g, s in raw_groups.items()}
    elif raw_groups is None:
        groups = {g: tuple(s) for g, s in comment_state_groups(text).items()}
        from_comments = bool(groups)

    states = tuple(dict.fromkeys(_strs(data.get("states"))))
    metadata = data.get("metadata")
    spec = MachineSpec(
        initial_state=initial if isinstance(initial, str) else "waiting",
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        description=(data.get("description") if isinstance(data.get("description"), str) else None),
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        states=states,
        events=events,
        transitions=tuple(transitions),
        actions=actions,
        template=data.get("template") is True,
        state_groups=groups,
        known_context=tuple(_strs(data.get("known_context"))),
        source=file,
        config_type=FsPath(file).stem,
    )
    if "final_states" in data and data["final_states"] is not None:
        final = frozenset(_strs(data["final_states"]))
    else:
        named = set(spec.states) | {t.to for t in spec.transitions} | {spec.initial_state}
        final = frozenset(CONVENTIONAL_FINAL_STATES & named)
    return attrs.evolve(spec, final_states=final), from_comments


@attrs.frozen
class ActionSite:
    """An action and where it runs: on entry to ``state``, or on ``transition``."""

    path: Path
    action: ActionSpec
    state: str | None = None
    transition: Transition | None = None


def action_sites(doc: Document) -> list[ActionSite]:
    """Every well-formed action of the document (entry actions, then transition actions)."""
    assert doc.spec is not None
    sites: list[ActionSite] = []
    for state, actions in doc.spec.actions.items():
        for action in actions:
            sites.append(ActionSite(_index_path(("actions", state), action), action, state=state))
    for t in doc.spec.transitions:
        for action in t.actions:
            path = _index_path(("transitions", t.index, "actions"), action)
            sites.append(ActionSite(path, action, transition=t))
    return sites


def _index_path(prefix: Path, action: ActionSpec) -> Path:
    # ActionSpec.path ends in "[i]" (see lenient_spec); keep the prefix as a tuple so state
    # names with dots or brackets survive.
    index = int(action.path.rsplit("[", 1)[1].rstrip("]"))
    return (*prefix, index)
