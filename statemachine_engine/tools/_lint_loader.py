"""The loader's own verdict (S000), so that a file the checker passes is a file that loads.

The checks of this package re-derive most of what the loader rejects, with codes and fixes.
Whatever else the loader reports (a value of the wrong type, a bad ``context_map`` path, ...)
is added here under ``S000``, unless one of those checks reported at the same YAML path.
"""

from __future__ import annotations

from statemachine_engine.config import build_spec
from statemachine_engine.errors import ConfigError, ConfigIssue
from statemachine_engine.tools._document import Document
from statemachine_engine.tools._findings import Finding

#: codes of checks that make the loader's own checks, with the same YAML paths
_SAME_AS_LOADER = frozenset(
    {"S001", "S002", "S003", "S004", "S005", "S009", "S010", "G001", "A001", "A002"}
)


def check_loader(doc: Document) -> None:
    assert doc.data is not None and doc.spec is not None
    try:
        spec = build_spec(
            doc.data,
            positions=doc.positions,
            text=doc.text,
            file=doc.file,
            config_type=doc.spec.config_type,
            known_actions=None,  # action types are checked by the A family
        )
        issues: tuple[ConfigIssue, ...] = spec.warnings
        doc.loaded = spec
    except ConfigError as exc:
        issues = exc.issues
    except Exception as exc:  # boundary: a loader bug must not hide the other findings
        doc.findings.append(
            Finding(
                "S000",
                "error",
                f"the configuration loader failed on this file ({type(exc).__name__}: {exc})",
                doc.file,
                fix="report this as a bug, with the file",
            )
        )
        return
    covered = {f.path for f in doc.findings if f.code in _SAME_AS_LOADER}
    for issue in issues:
        if issue.path in covered:
            continue
        covered.add(issue.path)
        doc.findings.append(
            Finding(
                "S000",
                "warning" if issue.severity == "warning" else "error",
                issue.message,
                doc.file,
                issue.line,
                issue.column,
                issue.path,
                "correct the value as the message says",
            )
        )
