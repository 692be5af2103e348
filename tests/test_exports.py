"""Public names: every package re-exports a sorted ``__all__`` that imports; light imports
stay free of trio."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import statemachine_engine

PACKAGE_ROOT = Path(statemachine_engine.__file__).parent

#: packages whose __init__ holds data of their own rather than re-exports
NOT_REEXPORTING = {"statemachine_engine.actions.builtin"}


def isort_key(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then everything else."""
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def packages() -> list[str]:
    names = ["statemachine_engine"]
    for info in pkgutil.walk_packages([str(PACKAGE_ROOT)], prefix="statemachine_engine."):
        if info.ispkg and not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def test_packages_are_found() -> None:
    found = packages()
    for expected in ("statemachine_engine.actors", "statemachine_engine.config"):
        assert expected in found


@pytest.mark.parametrize("name", packages())
def test_package_all_is_sorted_unique_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    public = [n for n in vars(module) if not n.startswith("_")]
    exported = getattr(module, "__all__", None)
    if exported is None:
        own = [
            n
            for n in public
            if not n.startswith("TYPE_CHECKING")
            and getattr(vars(module)[n], "__module__", name) == name
            and not isinstance(vars(module)[n], type(sys))
            and n not in ("annotations", "importlib")
        ]
        assert own == [] or name in NOT_REEXPORTING, f"{name} has public names but no __all__"
        return
    assert list(exported) == sorted(exported, key=isort_key), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for item in exported:
        assert getattr(module, item, None) is not None, f"{name}.{item} does not resolve"


def test_top_level_lazy_names_resolve() -> None:
    from statemachine_engine.actors import open_runtime
    from statemachine_engine.core.engine import StateMachineEngine

    assert statemachine_engine.open_runtime is open_runtime
    assert statemachine_engine.StateMachineEngine is StateMachineEngine
    assert sorted(dir(statemachine_engine)) == sorted(statemachine_engine.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = statemachine_engine.nope  # type: ignore[attr-defined]


def test_base_action_is_importable_as_the_published_package_documents() -> None:
    from statemachine_engine import BaseAction
    from statemachine_engine.actions import BaseAction as FromActions

    assert BaseAction is FromActions


def imports_trio(module: str) -> bool:
    code = f"import sys, {module}; print('trio' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip() == "True"


@pytest.mark.parametrize(
    "module",
    [
        "statemachine_engine",
        "statemachine_engine.errors",
        *(["statemachine_engine.cli._db"] if (PACKAGE_ROOT / "cli" / "_db.py").exists() else []),
    ],
)
def test_light_imports_do_not_import_trio(module: str) -> None:
    assert not imports_trio(module)
