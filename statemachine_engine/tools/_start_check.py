"""The check a runtime makes before it starts a configuration: the checker's verdict on it
and on the machines it starts with ``start_fsm``, and the spec to run.

One rule set: what ``statemachine-validate`` calls an error refuses the start, with the
same finding (file, line, column, YAML path, fix); its warnings are shown at start. The
YAML is parsed once, for the checks and the spec alike.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import attrs

from statemachine_engine.config import MachineSpec
from statemachine_engine.tools._document import Document, action_sites, read_document
from statemachine_engine.tools._findings import Finding
from statemachine_engine.tools._lint import LintResult, run_checks
from statemachine_engine.tools._lint_actions import get_key
from statemachine_engine.tools._lint_cross import locate_config

#: configurations checked at one start (the config and the machines it starts, transitively)
MAX_FILES = 64


@attrs.frozen
class StartCheck:
    """The checker's result for a start, and the loader's spec of the config (None when the
    loader rejects it; run it only when there are no errors)."""

    result: LintResult
    spec: MachineSpec | None

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.result.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.result.findings if f.severity == "warning"]


def check_start(
    config: str | Path,
    *,
    actions_dirs: Iterable[str | Path] = (),
    initial_context: Collection[str] = (),
    durable: bool = False,
) -> StartCheck:
    """Check ``config`` and the configurations it starts (literal ``start_fsm`` paths,
    resolved as the runtime resolves them) together, as ``statemachine-validate`` would.

    ``initial_context`` are the keys ``--initial-context`` gives; for a ``durable`` machine
    (or one whose YAML says ``durable: true``) an unknown placeholder (P001) is a warning,
    since it resumes with the context of its checkpoint.
    """
    main = read_document(config)
    docs = [main, *_children(main)]
    result = run_checks(docs, actions_dirs, initial_context, None, ())
    if durable or (main.loaded is not None and main.loaded.durable):
        result = attrs.evolve(result, findings=tuple(_resumable(f, main) for f in result.findings))
    return StartCheck(result, main.loaded)


def _resumable(finding: Finding, main: Document) -> Finding:
    """A durable machine may resume from its checkpoint with context keys no start gives it."""
    if finding.code != "P001" or finding.severity != "error" or finding.file != main.file:
        return finding
    return attrs.evolve(
        finding,
        severity="warning",
        message=f"{finding.message}; a durable machine may have it from its checkpoint",
    )


def _children(main: Document) -> list[Document]:
    seen = {Path(main.file).resolve()}
    todo, found = [main], []
    while todo and len(seen) < MAX_FILES:
        parent = todo.pop()
        for site in action_sites(parent) if parent.spec is not None else ():
            yaml_path = get_key(site.action.config, "yaml_path")
            if site.action.type != "start_fsm" or not isinstance(yaml_path, str):
                continue
            if "{" in yaml_path:
                continue  # decided at run time
            child = locate_config(yaml_path, parent.file).path
            if child is None or child.resolve() in seen:
                continue  # a missing one is the parent's X003
            seen.add(child.resolve())
            doc = read_document(child)
            found.append(doc)
            todo.append(doc)
    return found
