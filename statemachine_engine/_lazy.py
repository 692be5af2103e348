"""Lazy re-exports for package ``__init__`` modules.

A package whose names pull in trio or attrs re-exports them through :func:`lazy_exports`, so
that the short command-line tools, which import the package for one cheap name, never pay
for the rest. A name is imported the first time it is read, then cached in the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str,
    names: Mapping[str, str],
    *,
    modules: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    ``names`` maps each exported name to the module that defines it; ``modules`` maps names
    that stand for a whole module to that module.
    """
    namespace = importlib.import_module(package).__dict__
    whole = dict(modules or {})

    def __getattr__(name: str) -> Any:
        if name in whole:
            value = importlib.import_module(whole[name])
        else:
            module = names.get(name)
            if module is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return list(namespace.get("__all__", [*names, *whole]))

    return __getattr__, __dir__
