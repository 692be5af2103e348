"""Checks across machines (X family): send_event targets and start_fsm configuration files.

A machine is known by its ``metadata.machine_name``, by its file stem, and by the literal
``machine_name`` another checked file starts it under with ``start_fsm``. Names with
placeholders are decided at run time and not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from statemachine_engine.tools._document import Document, action_sites
from statemachine_engine.tools._lint_actions import get_key, has_key
from statemachine_engine.tools._suggest import did_you_mean


def _literal(value: object) -> str | None:
    return value if isinstance(value, str) and value and "{" not in value else None


def config_candidates(doc: Document, yaml_path: str) -> list[Path]:
    """Where ``start_fsm`` may find ``yaml_path``: the working folder, then the config's."""
    path = Path(yaml_path).expanduser()
    if path.is_absolute():
        return [path]
    return [path, doc.folder / path]


def check_start_fsm(doc: Document) -> None:
    """X003 for one file: every literal ``yaml_path`` exists."""
    for site in action_sites(doc):
        if site.action.type != "start_fsm":
            continue
        yaml_path = _literal(get_key(site.action.config, "yaml_path"))
        if yaml_path is None:
            continue
        candidates = config_candidates(doc, yaml_path)
        if not any(c.is_file() for c in candidates):
            tried = " or ".join(str(c) for c in dict.fromkeys(candidates))
            doc.report(
                "X003",
                "error",
                (*site.path, "yaml_path"),
                f"start_fsm configuration {yaml_path!r} not found (looked for {tried})",
                "correct yaml_path (relative to the working folder or to this file)",
            )


def _names(docs: Sequence[Document]) -> dict[str, Document]:
    by_file = {Path(d.file).resolve(): d for d in docs}
    names: dict[str, Document] = {}
    for doc in docs:
        assert doc.spec is not None
        names.setdefault(doc.spec.config_type, doc)
    for doc in docs:
        assert doc.spec is not None
        if doc.spec.machine_name:
            names[doc.spec.machine_name] = doc
    for doc in docs:
        for site in action_sites(doc):
            if site.action.type != "start_fsm":
                continue
            name = _literal(get_key(site.action.config, "machine_name"))
            yaml_path = _literal(get_key(site.action.config, "yaml_path"))
            if name is None or yaml_path is None:
                continue
            for candidate in config_candidates(doc, yaml_path):
                child = by_file.get(candidate.resolve())
                if child is not None:
                    names.setdefault(name, child)
                    break
    return names


def check_targets(docs: Sequence[Document]) -> None:
    """X001/X002: every literal send_event target exists and handles the event sent.

    With one file, only sends to the machine itself are checked (the others live elsewhere).
    """
    docs = [d for d in docs if d.spec is not None]
    names = _names(docs)
    for doc in docs:
        assert doc.spec is not None
        own = {doc.spec.config_type, doc.spec.default_name}
        for site in action_sites(doc):
            if site.action.type != "send_event":
                continue
            config = site.action.config
            key = "target_machine" if has_key(config, "target_machine") else "target"
            target = _literal(get_key(config, key))
            if target is None:
                continue
            found = doc if target in own else names.get(target)
            if found is None:
                if len(docs) > 1:
                    doc.report(
                        "X001",
                        "warning",
                        (*site.path, key),
                        f"send_event target {target!r} is none of the checked machines"
                        f"{did_you_mean(target, names)}; it must be started some other way",
                        "check the name, or include the target's configuration file in the check",
                    )
                continue
            event = _literal(get_key(config, "event_type"))
            if event is None:
                continue
            assert found.spec is not None
            if not any(t.event == event for t in found.spec.transitions):
                handled = sorted({t.event for t in found.spec.transitions})
                doc.report(
                    "X002",
                    "error",
                    (*site.path, "event_type"),
                    f"machine {target!r} ({found.file}) has no transition on {event!r}"
                    f"{did_you_mean(event, handled)}; the event would be dropped as unhandled",
                    f"send an event {target!r} handles, or add a transition on {event!r} to it",
                )
