"""What ``start_fsm`` parents pass their children: context keys a child's placeholders may use.

A machine started by another receives the keys its parent names in ``context_vars``
(``"var"``, ``"a.b.c"``, ``"src as dst"``) and ``initial_context``. The parents are looked
for among the files checked together and, since the runtime runs a child file on its own
too, among the other YAML files of each checked file's folder (only files that mention
``start_fsm`` and the child's file name are parsed, so the search stays cheap).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from statemachine_engine.tools._document import Document, action_sites, read_document
from statemachine_engine.tools._lint_actions import get_key
from statemachine_engine.tools._lint_cross import locate_config, located_file

#: sibling files looked at per folder, and the largest one read
_MAX_SIBLINGS = 200
_MAX_BYTES = 512 * 1024


def passed_keys(docs: Sequence[Document]) -> dict[Path, set[str]]:
    """For each checked file (resolved), the context keys its parents pass it."""
    # files on disk only: a text checked under a made-up name has no folder to look in
    checked = {
        Path(d.file).resolve(): d for d in docs if d.spec is not None and Path(d.file).is_file()
    }
    names = {path.name for path in checked}
    out: dict[Path, set[str]] = {}
    for parent in [*checked.values(), *_siblings(checked, names)]:
        for child, keys in _starts(parent):
            if child in checked:
                out.setdefault(child, set()).update(keys)
    return out


def _siblings(checked: Mapping[Path, Document], names: set[str]) -> Iterator[Document]:
    """Unchecked YAML files beside the checked ones that may start one of them."""
    for folder in sorted({path.parent for path in checked}):
        try:
            files = sorted(folder.iterdir())
        except OSError:
            continue
        candidates = [f for f in files if f.suffix in (".yaml", ".yml") and f not in checked]
        for file in candidates[:_MAX_SIBLINGS]:
            try:
                if file.stat().st_size > _MAX_BYTES:
                    continue
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if "start_fsm" in text and any(name in text for name in names):
                doc = read_document(file)
                if doc.spec is not None:
                    yield doc


def _starts(parent: Document) -> Iterator[tuple[Path, set[str]]]:
    """``(child file, keys passed)`` for each literal ``start_fsm`` of ``parent``."""
    for site in action_sites(parent):
        if site.action.type != "start_fsm":
            continue
        yaml_path = get_key(site.action.config, "yaml_path")
        if not isinstance(yaml_path, str) or not yaml_path or "{" in yaml_path:
            continue
        child = located_file(locate_config(yaml_path, parent.file), yaml_path)
        if child is not None:
            yield child, _keys(site.action.config)


def _keys(config: Mapping[str, object]) -> set[str]:
    """The context keys one ``start_fsm`` gives its child (their first dotted part)."""
    keys: set[str] = set()
    specs = get_key(config, "context_vars") or []
    for spec in [specs] if isinstance(specs, str) else specs if isinstance(specs, list) else []:
        source, _, target = str(spec).partition(" as ")
        name = target.strip() or source.strip()
        if name:
            keys.add(name.split(".", 1)[0])
    extra = get_key(config, "initial_context")
    if isinstance(extra, Mapping):
        keys.update(str(k) for k in extra)
    return keys
