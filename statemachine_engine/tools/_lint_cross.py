"""Checks across machines (X family): send_event targets and start_fsm configuration files.

A machine is known by its ``metadata.machine_name``, by its file stem, and by the literal
``machine_name`` another checked file starts it under with ``start_fsm``. Names with
placeholders are decided at run time and not checked. A ``start_fsm`` ``yaml_path`` is
resolved with the runtime's own function, and a finding says which folders were tried.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs

from statemachine_engine.actors import resolve_config_path
from statemachine_engine.tools._document import Document, action_sites
from statemachine_engine.tools._lint_actions import get_key, has_key
from statemachine_engine.tools._suggest import did_you_mean

#: how many folders up from a parent's config a start_fsm path is looked for
_ANCESTORS = 8


def _literal(value: object) -> str | None:
    return value if isinstance(value, str) and value and "{" not in value else None


def located_file(found: Located, yaml_path: str) -> Path | None:
    """The child's resolved file: where the runtime finds it, else where it is written
    relative to (the file the author means)."""
    if found.path is not None:
        return found.path.resolve()
    if found.root is not None:
        return (found.root / yaml_path).resolve()
    return None


@attrs.frozen
class Located:
    """Where the runtime finds a ``start_fsm`` configuration, seen from its parent's file."""

    #: the file the runtime starts, or None when it finds none
    path: Path | None
    #: the folders looked in, in the runtime's order, for the finding's message
    tried: tuple[str, ...] = ()
    #: an ancestor folder of the parent's config from which the path resolves: the runtime
    #: finds the file only when it is started there
    root: Path | None = None


def locate_config(yaml_path: str, parent_file: str) -> Located:
    """Resolve ``yaml_path`` as the runtime does (``resolve_config_path``: as given, relative
    to the working folder, else beside the parent's config); when neither holds it, look for
    the ancestor folder it is written relative to (a project root)."""
    found = Path(resolve_config_path(yaml_path, parent_file))
    if found.is_file():
        return Located(found)
    given = Path(yaml_path).expanduser()
    if given.is_absolute():
        return Located(None, (str(given),))
    beside = Path(parent_file).resolve().parent
    tried = (f"the working folder {Path.cwd()}", f"this config's folder {beside}")
    for ancestor in list(beside.parents)[:_ANCESTORS]:
        if (ancestor / given).is_file():
            return Located(None, tried, ancestor)
    return Located(None, tried)


def check_start_fsm(doc: Document) -> None:
    """X003 for one file: every literal ``yaml_path`` is found as the runtime looks for it."""
    for site in action_sites(doc):
        if site.action.type != "start_fsm":
            continue
        yaml_path = _literal(get_key(site.action.config, "yaml_path"))
        if yaml_path is None:
            continue
        found = locate_config(yaml_path, doc.file)
        if found.path is not None:
            continue
        tried = " nor in ".join(found.tried)
        where = (*site.path, "yaml_path")
        if found.root is None:
            doc.report(
                "X003",
                "error",
                where,
                f"start_fsm configuration {yaml_path!r} not found: not in {tried}",
                "correct yaml_path (relative to the folder statemachine runs in, or to this "
                "config's folder)",
            )
            continue
        target = (found.root / yaml_path).resolve()
        doc.report(
            "X003",
            "warning",
            where,
            f"start_fsm configuration {yaml_path!r} is not in {tried}; it is relative to "
            f"{found.root}: the runtime finds it only when started from that folder",
            f"start statemachine from {found.root}, or write yaml_path relative to this "
            f"config: {os.path.relpath(target, Path(doc.file).resolve().parent)}",
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
            file = located_file(locate_config(yaml_path, doc.file), yaml_path)
            child = by_file.get(file) if file is not None else None
            if child is not None:
                names.setdefault(name, child)
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
