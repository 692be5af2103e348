"""Placeholder checks (P family): ``{name}`` that nothing can ever put in the context.

A placeholder's root (``job`` in ``{job.data.id}``) is known when the runtime sets it, when
the machine sets it (``context_map`` targets, ``store_as``, ``set_context`` keys, list keys,
``known_context:``), or when ``--initial-context`` provides it. A placeholder with a
``|default:`` filter always resolves and is never reported.

A machine started by another with ``start_fsm`` also knows the keys its parents pass
(``context_vars``, ``initial_context``; see ``_lint_parents``). In a ``bash`` command,
``{primary|fallback}`` names two keys (the runtime takes the first with a value): it is
reported only when neither can ever be set.

An unknown root is an error, except where nobody can know: in states that can be entered
after a job was claimed (job data fields become context keys) and in machines that use custom
actions (which may set any key). There it is a warning.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from statemachine_engine.config import KNOWN_FILTERS, Path, fallbacks
from statemachine_engine.tools._action_info import JOB_CLAIMING_TYPES, ActionCatalog
from statemachine_engine.tools._document import ActionSite, Document, action_sites
from statemachine_engine.tools._findings import Severity
from statemachine_engine.tools._lint_actions import actions_roots, get_key, truthy
from statemachine_engine.tools._lint_reach import reachable, successors
from statemachine_engine.tools._suggest import did_you_mean

#: Context keys the runtime itself provides.
RUNTIME_ROOTS = frozenset(
    {
        "machine_name",
        "current_state",
        "event_data",
        "last_error",
        "last_error_action",
        "last_output",
        "last_error_output",
        "current_job",
        "job_id",
        "id",
        "job_type",
    }
)

# The interpolation grammar (config/_interpolate.py), except that ``${NAME}`` is shell
# syntax and not a placeholder for the checker's purposes.
_PLACEHOLDER = re.compile(
    r"(?<!\$)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"(?P<filters>(?:\|[A-Za-z_]+(?::[^{}|]*)?)*)\}"
)


def scan(text: str) -> list[tuple[str, list[str]]]:
    """``(name, [filter names])`` for each placeholder in ``text``."""
    return [
        (m.group("name"), [f.split(":", 1)[0] for f in m.group("filters").split("|") if f])
        for m in _PLACEHOLDER.finditer(text)
    ]


def strings(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Every string inside ``value`` (dict values and list items, recursively) with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from strings(item, (*path, i))


def context_roots(doc: Document, initial_context: Collection[str] = ()) -> set[str]:
    """Every context key this machine can ever hold."""
    assert doc.spec is not None
    roots = set(RUNTIME_ROOTS) | set(doc.spec.known_context) | set(initial_context)
    for event in doc.spec.events.values():
        roots.update(event.context_map)
    for site in action_sites(doc):
        roots.update(_sets(site.action.type, site.action.config))
    return roots


def _sets(kind: str, config: Mapping[str, Any]) -> set[str]:
    """Context keys an action of type ``kind`` configured by ``config`` writes."""
    out: set[str] = set()

    def name(key: str, default: str | None = None) -> None:
        value = get_key(config, key, default)
        if isinstance(value, str) and value and "{" not in value:
            out.add(value.split(".", 1)[0])

    name("store_as", "pending_jobs" if kind == "get_pending_jobs" else None)
    if kind == "set_context":
        name("key")
    if kind in ("add_to_list", "pop_from_list"):
        name("list_key", "items")
    if kind == "wait_for_jobs":
        out |= {"completed_jobs", "failed_jobs", "pending_jobs", "wait_start_time"}
    if kind == "start_fsm" and truthy(get_key(config, "store_pid")):
        out.add("spawned_pids")
    return out


def _claims_job(site: ActionSite) -> bool:
    config = site.action.config
    return (
        site.action.type in JOB_CLAIMING_TYPES
        or get_key(config, "store_as") == "current_job"
        or (site.action.type == "set_context" and get_key(config, "key") == "current_job")
    )


def job_states(doc: Document) -> set[str]:
    """States that can be entered (or run actions) after a job was claimed."""
    assert doc.spec is not None
    sites = action_sites(doc)
    start: set[str] = set()
    for site in sites:
        if _claims_job(site):
            if site.state is not None:
                start.add(site.state)
            elif site.transition is not None:
                start.add(site.transition.to)
    return reachable(successors(doc.spec), start) if start else set()


def check_placeholders(
    doc: Document,
    catalog: ActionCatalog,
    initial_context: Collection[str] = (),
    passed: Collection[str] = (),
) -> None:
    """P001/P002 for one file; ``passed`` are the keys its ``start_fsm`` parents give it."""
    assert doc.spec is not None
    roots = context_roots(doc, initial_context) | set(passed)
    after_job = job_states(doc)
    extra = actions_roots(doc)
    sites = action_sites(doc)
    custom = sorted(
        {
            s.action.type
            for s in sites
            if s.action.type
            and (info := catalog.lookup(s.action.type, extra)) is not None
            and not info.builtin
        }
    )
    for site in sites:
        if site.state is not None:
            in_job = site.state in after_job
        else:
            assert site.transition is not None
            sources = site.transition.from_
            in_job = bool(after_job) and ("*" in sources or any(s in after_job for s in sources))
        for path, text in _action_strings(site):
            if site.action.type == "bash" and path[-1] == "command":
                text = _check_fallbacks(doc, path, text, roots, in_job, custom)
            _check_string(doc, path, text, roots, in_job, custom)


def _action_strings(site: ActionSite) -> Iterator[tuple[Path, str]]:
    for key, value in site.action.config.items():
        if key != "type":
            yield from strings(value, (*site.path, str(key)))


def _check_fallbacks(
    doc: Document, path: Path, text: str, roots: set[str], in_job: bool, custom: list[str]
) -> str:
    """Report each ``{primary|fallback}`` neither of whose keys is ever set; the command
    without them, for the other placeholder checks."""
    for written, *names in fallbacks(text):
        text = text.replace(written, "")
        if any(name.split(".", 1)[0] in roots for name in names):
            continue
        severity, why = _unknown_severity(in_job, custom)
        doc.report(
            "P001",
            severity,
            path,
            f"placeholder {written}: nothing in this machine puts {names[0].split('.')[0]!r} "
            f"or {names[1].split('.')[0]!r} in the context{why}",
            "declare one of them under known_context:, or set it (set_context, store_as, an "
            "event's context_map, a parent's start_fsm context_vars)",
        )
    return text


def _unknown_severity(in_job: bool, custom: list[str]) -> tuple[Severity, str]:
    """An unknown key is an error, unless a claimed job or a custom action may set it."""
    if in_job:
        return "warning", (
            "; it may be a field of the claimed job's data, which the checker cannot see"
        )
    if custom:
        return "warning", f"; a custom action ({', '.join(custom)}) may set it"
    return "error", ""


def _check_string(
    doc: Document,
    path: Path,
    text: str,
    roots: set[str],
    in_job: bool,
    custom: list[str],
) -> None:
    reported: set[str] = set()
    for name, filters in scan(text):
        for f in filters:
            if f not in KNOWN_FILTERS:
                doc.report(
                    "P002",
                    "warning",
                    path,
                    f"unknown filter {f!r} in {{{name}|...}}: the placeholder is left as "
                    f"written{did_you_mean(f, KNOWN_FILTERS)}",
                    f"use one of the filters {', '.join(KNOWN_FILTERS)}",
                )
        root = name.split(".", 1)[0]
        if root in roots or "default" in filters or root in reported:
            continue
        reported.add(root)
        severity, why = _unknown_severity(in_job, custom)
        doc.report(
            "P001",
            severity,
            path,
            f"placeholder {{{name}}}: nothing in this machine puts {root!r} in the context"
            f"{did_you_mean(root, roots)}{why}",
            f"declare it under known_context:, set it (set_context, store_as, an event's "
            f"context_map, a parent's start_fsm context_vars), or write {{{name}|default:...}}",
        )
