"""The one checker behind ``statemachine-validate`` and ``statemachine-lint``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import TypeVar

import attrs

from statemachine_engine.tools._action_info import ActionCatalog
from statemachine_engine.tools._document import Document, parse_document, read_document
from statemachine_engine.tools._findings import Finding, Severity, sort_key
from statemachine_engine.tools._lint_actions import ActionImports, check_actions
from statemachine_engine.tools._lint_cross import check_start_fsm, check_targets
from statemachine_engine.tools._lint_groups import check_groups
from statemachine_engine.tools._lint_loader import check_loader
from statemachine_engine.tools._lint_parents import passed_keys
from statemachine_engine.tools._lint_placeholders import check_placeholders
from statemachine_engine.tools._lint_reach import check_reachability
from statemachine_engine.tools._lint_structure import check_structure

logger = logging.getLogger(__name__)
T = TypeVar("T")


@attrs.frozen
class LintResult:
    """Findings of one run, sorted by file, line and code; ``files`` in the order given."""

    files: tuple[str, ...]
    findings: tuple[Finding, ...]

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def for_file(self, file: str) -> list[Finding]:
        return [f for f in self.findings if f.file == file]

    @property
    def ok(self) -> bool:
        """No errors (warnings and infos allowed)."""
        return self.count("error") == 0


def lint_paths(
    paths: Iterable[str | Path],
    *,
    actions_dirs: Iterable[str | Path] = (),
    initial_context: Collection[str] = (),
    select: Collection[str] | None = None,
    ignore: Collection[str] = (),
) -> LintResult:
    """Check configuration files, together (``send_event`` targets are looked up among them).

    ``actions_dirs`` are custom action folders (``--actions-dir``); ``initial_context`` the
    context keys a ``--initial-context`` would provide; ``select``/``ignore`` filter by code.
    Never raises for a broken file: a missing file or bad YAML is a finding.
    """
    docs = [read_document(p) for p in paths]
    return run_checks(docs, actions_dirs, initial_context, select, ignore)


def lint_yaml(
    text: str,
    file: str = "<config>",
    *,
    actions_dirs: Iterable[str | Path] = (),
    initial_context: Collection[str] = (),
    select: Collection[str] | None = None,
    ignore: Collection[str] = (),
) -> LintResult:
    """Check one configuration given as YAML text (named ``file`` in the findings)."""
    doc = parse_document(text, file, Document(file, text))
    return run_checks([doc], actions_dirs, initial_context, select, ignore)


def _guarded(doc: Document, check: Callable[[T], None], arg: T) -> None:
    """Run one check; a bug in it becomes an F004 finding instead of a traceback."""
    try:
        check(arg)
    except Exception as exc:  # boundary: report and carry on with the other checks
        logger.debug("check %r failed on %s", check, doc.file, exc_info=True)
        doc.findings.append(
            Finding(
                "F004",
                "error",
                f"the checker failed on this file ({type(exc).__name__}: {exc}); the other "
                "checks still ran",
                doc.file,
                fix="please report this as a bug, with the file",
            )
        )


def run_checks(
    docs: list[Document],
    actions_dirs: Iterable[str | Path],
    initial_context: Collection[str],
    select: Collection[str] | None,
    ignore: Collection[str],
) -> LintResult:
    """Every check on ``docs`` (parsed files), then the cross-file ones; sorted findings."""
    actions_dirs = list(actions_dirs)
    passed = passed_keys(docs)
    catalog = ActionCatalog(actions_dirs)
    imports = ActionImports(actions_dirs)
    checks: list[Callable[[Document], None]] = [
        check_structure,
        check_groups,
        check_reachability,
        lambda doc: check_actions(doc, catalog, imports),
        lambda doc: check_placeholders(
            doc, catalog, initial_context, passed.get(Path(doc.file).resolve(), ())
        ),
        check_start_fsm,
        check_loader,
    ]
    for doc in docs:
        if doc.spec is None:
            continue
        for check in checks:
            _guarded(doc, check, doc)
    loaded = [d for d in docs if d.spec is not None]
    if loaded:
        _guarded(loaded[0], check_targets, loaded)
    findings = [f for doc in docs for f in doc.findings]
    if select is not None:
        findings = [f for f in findings if f.code in select]
    findings = [f for f in findings if f.code not in ignore]
    files = tuple(dict.fromkeys(d.file for d in docs))
    order = {file: i for i, file in enumerate(files)}
    findings.sort(key=lambda f: (order[f.file], *sort_key(f)[1:]))
    return LintResult(files, tuple(dict.fromkeys(findings)))
