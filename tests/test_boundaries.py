"""Package boundaries: a subpackage reaches another only through what its ``__init__``
exports, never into its private ``_modules``.

Each first-level subpackage of ``statemachine_engine`` (``actors``, ``persistence``, ...) is a
unit; its ``__init__`` is its map. An import of ``statemachine_engine.<other>._private`` (or
of ``_private`` as a name from it) from another subpackage is a violation, unless the
allow-list below names it with its reason. The root's own private modules
(``statemachine_engine._lazy``, ``_thinning``, ``_liveness``) are shared helpers of every
subpackage and may be imported anywhere.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import statemachine_engine

PACKAGE = "statemachine_engine"
PACKAGE_ROOT = Path(statemachine_engine.__file__).parent

#: (importing unit, imported private module) -> why it is allowed
ALLOWED: dict[tuple[str, str], str] = {
    ("__main__", "statemachine_engine.cli._statemachine"): (
        "`python -m statemachine_engine` is the `statemachine` command itself"
    ),
}


def _unit(path: Path) -> str:
    """The first-level subpackage a source file belongs to (a root module is its own)."""
    parts = path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return parts[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([PACKAGE, *parts])


def _resolve(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    return _imports_in(
        path.read_text(encoding="utf-8"), _module_name(path), path.name == "__init__.py"
    )


def _imports_in(source: str, importer: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module ``source`` imports, with its line (a private name imported from a
    package counts as the module it is)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node, importer, is_package)
            yield node.lineno, module
            for alias in node.names:
                if alias.name.startswith("_"):
                    yield node.lineno, f"{module}.{alias.name}"


def _private_target(module: str) -> tuple[str, str] | None:
    """(unit, module) when ``module`` is a private module inside a subpackage."""
    parts = module.split(".")
    if parts[0] != PACKAGE or len(parts) < 3:
        return None
    if not any(part.startswith("_") for part in parts[2:]):
        return None
    return parts[1], module


def _sources() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE_ROOT.rglob("*.py")
        if "node_modules" not in p.relative_to(PACKAGE_ROOT).parts
    )


def violations() -> list[str]:
    found = []
    for path in _sources():
        unit = _unit(path)
        for line, module in _imports(path):
            target = _private_target(module)
            if target is None or target[0] == unit or (unit, module) in ALLOWED:
                continue
            where = path.relative_to(PACKAGE_ROOT.parent)
            found.append(f"{where}:{line}: {unit} imports {module}")
    return found


def test_no_subpackage_imports_another_ones_private_modules() -> None:
    found = violations()
    assert found == [], (
        "import these through the other package's __init__ (export the name there), or add "
        "an ALLOWED entry with its reason:\n" + "\n".join(found)
    )


def test_every_allowed_entry_is_still_needed() -> None:
    used = set()
    for path in _sources():
        unit = _unit(path)
        for _, module in _imports(path):
            if (unit, module) in ALLOWED:
                used.add((unit, module))
    assert set(ALLOWED) - used == set(), "remove allow-list entries nothing needs any more"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from statemachine_engine.persistence._store import SqliteStore", True),
        ("from statemachine_engine.persistence import _jobs_sql", True),
        ("import statemachine_engine.transport._wire", True),
        ("from statemachine_engine.persistence import open_store", False),
        ("from statemachine_engine._thinning import worth_logging", False),
        ("from statemachine_engine.actors._machine import MachineActor", False),  # same unit
        ("from ._machine import MachineActor", False),
        ("from ..persistence._store import SqliteStore", True),
    ],
)
def test_the_checker_tells_a_private_import_from_a_public_one(source: str, expected: bool) -> None:
    # checked as if written in a module of the unit "actors"
    found = [
        module
        for _, module in _imports_in(source, "statemachine_engine.actors._probe", False)
        if (target := _private_target(module)) is not None and target[0] != "actors"
    ]
    assert bool(found) is expected
