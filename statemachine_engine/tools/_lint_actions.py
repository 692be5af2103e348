"""Action checks (A family): types, required and unknown keys, events nothing handles,
custom action files that cannot be loaded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from statemachine_engine.actions import get_registry
from statemachine_engine.config import action_param
from statemachine_engine.errors import ConfigError, ConfigIssue
from statemachine_engine.fsm import compile_spec
from statemachine_engine.tools._action_info import ActionCatalog, ActionInfo
from statemachine_engine.tools._document import ActionSite, Document, action_sites
from statemachine_engine.tools._findings import Finding
from statemachine_engine.tools._suggest import did_you_mean

_TRUE = frozenset({"true", "1", "yes", "on"})


def actions_roots(doc: Document) -> list[Path]:
    """Folders named by the published linter's ``actions_root:`` key (relative to the file)."""
    assert doc.data is not None
    root = doc.data.get("actions_root")
    if not isinstance(root, str) or not root:
        return []
    path = Path(root).expanduser()
    return [path if path.is_absolute() else doc.folder / path]


def truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _TRUE


_ABSENT = object()


def has_key(config: Mapping[str, Any], key: str) -> bool:
    """Whether the action sets ``key`` (at the top level or under ``params:``)."""
    return action_param(config, key, _ABSENT) is not _ABSENT


#: an action's key as the runtime reads it (top level, else under ``params:``)
get_key = action_param


class ActionImports:
    """Custom action files that cannot be loaded, per actions folder, found by loading every
    ``*_action.py`` as the runtime does at start (once per folder and run of the checker).

    ``dirs`` are the ``--actions-dir`` folders: the runtime warns about their broken files
    at start and refuses only a machine that uses one.
    """

    def __init__(self, actions_dirs: Iterable[str | Path] = ()) -> None:
        self.dirs = [Path(d) for d in actions_dirs]
        self._failures: dict[Path, dict[str, ConfigIssue]] = {}

    def failures(self, folder: Path) -> dict[str, ConfigIssue]:
        """Why each broken file of ``folder`` cannot be loaded, by action type."""
        found = self._failures.get(folder)
        if found is not None:
            return found
        found = self._failures[folder] = {}
        try:
            registry = get_registry(folder)
        except ConfigError:
            return found  # a missing folder is reported by the caller
        for action_type in registry.custom:
            try:
                registry.get(action_type)
            except ConfigError as exc:
                found[action_type] = (exc.issues or (ConfigIssue(str(exc)),))[0]
        return found

    def failure(self, action_type: str, folders: Iterable[Path]) -> ConfigIssue | None:
        for folder in folders:
            issue = self.failures(folder).get(action_type)
            if issue is not None:
                return issue
        return None


def _where(issue: ConfigIssue) -> str:
    return f"{issue.file}:{issue.line}" if issue.line is not None else str(issue.file)


def check_actions(doc: Document, catalog: ActionCatalog, imports: ActionImports) -> None:
    assert doc.spec is not None
    extra = actions_roots(doc)
    for root in extra:
        if not root.is_dir():
            doc.report(
                "A001",
                "error",
                ("actions_root",),
                f"actions_root folder not found: {root}",
                "correct the path (relative to this file) or remove the key",
            )
    extra = [r for r in extra if r.is_dir()]
    table = compile_spec(doc.spec)
    import_reported: set[str] = set()
    files_reported: set[str | None] = set()
    for site in action_sites(doc):
        info = _type_of(doc, site, catalog, extra)
        if info is None:
            continue
        if info.load_error is not None:
            if info.type not in import_reported:
                import_reported.add(info.type)
                issue = imports.failure(info.type, [*imports.dirs, *extra])
                if issue is None:
                    message = f"custom action {info.type!r} cannot be loaded: {info.load_error}"
                else:
                    files_reported.add(issue.file)
                    message = f"{issue.message} (at {_where(issue)})"
                doc.report(
                    "A006",
                    "error",
                    (*site.path, "type"),
                    message,
                    f"fix {info.type}_action.py in the actions folder",
                )
            continue
        _required(doc, site, info)
        _unknown_keys(doc, site, info)
        _settings(doc, site, info)
        if site.state is not None and not table.is_final(site.state):
            for key, event in returned_events(site.action.config, info):
                if table.select(site.state, event) is None:
                    _unhandled(doc, site, info, key, event)
    for folder in imports.dirs:
        for action_type, issue in imports.failures(folder).items():
            if issue.file in files_reported:
                continue
            files_reported.add(issue.file)
            # no line: the problem is in the action file, not at a place in this config; a
            # warning, as at start: the runtime refuses only a machine that uses the type
            doc.findings.append(
                Finding(
                    "A006",
                    "warning",
                    f"{issue.message} (at {_where(issue)}); this machine does not use it: the "
                    "runtime warns about it at start and refuses only a machine that uses "
                    f"type {action_type!r}",
                    doc.file,
                    fix=f"fix {Path(str(issue.file)).name}, or move it out of {folder}",
                )
            )


def _type_of(
    doc: Document, site: ActionSite, catalog: ActionCatalog, extra: list[Path]
) -> ActionInfo | None:
    raw = site.action.config
    kind = raw.get("type")
    if "type" not in raw:
        doc.report(
            "A002",
            "error",
            site.path,
            "this action has no type",
            "add type: <an action type>, for example type: log",
        )
        return None
    if not isinstance(kind, str) or not kind:
        doc.report(
            "A002",
            "error",
            (*site.path, "type"),
            f"an action type must be a name, got {kind!r}",
            "write type: <an action type>, for example type: log",
        )
        return None
    info = catalog.lookup(kind, extra)
    if info is None:
        known = catalog.types(extra)
        doc.report(
            "A001",
            "error",
            (*site.path, "type"),
            f"unknown action type {kind!r}{did_you_mean(kind, known)}",
            f"use a built-in type, or pass --actions-dir with a folder holding {kind}_action.py",
        )
    return info


def _required(doc: Document, site: ActionSite, info: ActionInfo) -> None:
    for alternatives in info.required:
        if not any(has_key(site.action.config, k) for k in alternatives):
            names = " or ".join(repr(k) for k in alternatives)
            doc.report(
                "A003",
                "error",
                site.path,
                f"{info.type} action needs {names}",
                f"add {alternatives[0]}: <value> to the action",
            )


def _unknown_keys(doc: Document, site: ActionSite, info: ActionInfo) -> None:
    if info.keys is None:
        return
    known = info.keys
    raw = site.action.config
    params = raw.get("params")
    places: list[tuple[tuple[str | int, ...], Iterable[Any]]] = [(site.path, raw)]
    if isinstance(params, Mapping):
        places.append(((*site.path, "params"), params))
    for path, keys in places:
        for key in keys:
            if str(key) not in known:
                doc.report(
                    "A004",
                    "warning",
                    (*path, str(key)),
                    f"{info.type} action does not read key {key!r}{did_you_mean(str(key), known)}",
                    f"remove it; {info.type} reads: {', '.join(sorted(known - {'type'}))}",
                    key=True,
                )


def _settings(doc: Document, site: ActionSite, info: ActionInfo) -> None:
    """Read each setting the action declares in ``CHECKS`` as ``execute`` will, when its
    value is written out (no placeholder): one that fails would fail at every run."""
    checks = getattr(info.cls, "CHECKS", None)
    if not isinstance(checks, Mapping) or not checks:
        return
    config = site.action.config
    action = None
    for key, check in checks.items():
        value = get_key(config, key, _ABSENT)
        if value is _ABSENT or (isinstance(value, str) and "{" in value):
            continue
        if action is None:
            assert info.cls is not None
            action = info.cls(config)
        try:
            check(action)
        except (ValueError, TypeError) as exc:
            params = get_key(config, "params", None)
            nested = key not in config and isinstance(params, Mapping) and key in params
            reason = str(exc)
            if not reason.startswith(f"{info.type}:"):
                reason = f"{info.type} action: {reason}"
            doc.report(
                "A007",
                "error",
                (*site.path, *(("params",) if nested else ()), key),
                reason,
                f"give {key} a value the action can use, or remove it for the default",
            )


def returned_events(config: Mapping[str, Any], info: ActionInfo) -> list[tuple[str, str]]:
    """``(outcome key, event)`` for every event the action may return, as far as is known.

    Configured outcome keys and the class defaults count; the implicit ``error`` (any action
    may fail) does not, an explicit ``error:`` does. Names with placeholders are skipped.
    """
    out: dict[str, str] = {}
    keys = dict(info.events)
    for key in ("success", "error"):
        keys.setdefault(key, None)
    for key, default in keys.items():
        if has_key(config, key):
            value = get_key(config, key)
        else:
            value = None if key == "error" else default
        if key == "success" and truthy(get_key(config, "fire_and_forget")):
            continue
        if isinstance(value, str) and value and "{" not in value:
            out.setdefault(value, key)
    mappings = get_key(config, "error_mappings")
    if isinstance(mappings, Mapping):
        for code, value in mappings.items():
            if isinstance(value, str) and value and "{" not in value:
                out.setdefault(value, f"error_mappings[{code}]")
    return [(key, event) for event, key in out.items()]


def _unhandled(doc: Document, site: ActionSite, info: ActionInfo, key: str, event: str) -> None:
    configured = has_key(site.action.config, key) or key.startswith("error_mappings")
    origin = f"its {key}" if configured else f"its default {key} event"
    doc.report(
        "A005",
        "warning",
        site.path,
        f"{info.type} action in state {site.state!r} can return {event!r} ({origin}) but no "
        f"transition from {site.state!r} handles it; the event is ignored and the next "
        "action runs",
        f"add a transition from: {site.state}, event: {event} (or from: '*'), or configure "
        f"{key.split('[')[0]}: with an event that has one",
    )
