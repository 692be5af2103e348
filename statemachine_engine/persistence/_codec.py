"""Column encoding shared by the SQL modules: JSON text columns and the error classes.

The error classes are imported on first use only: ``statemachine_engine.errors`` pulls in
attrs (about 25 ms), and the short ``statemachine-db`` commands must not pay for that on
their success path.
"""

from __future__ import annotations

import json
import sqlite3
from types import ModuleType
from typing import Any


def errors() -> ModuleType:
    """The ``statemachine_engine.errors`` module, imported when an error is raised."""
    from statemachine_engine import errors as module

    return module


def dumps(value: Any) -> str | None:
    """JSON text for a column; None and empty mappings are stored as NULL (as upstream)."""
    if value is None or (isinstance(value, dict) and not value):
        return None
    return json.dumps(value, separators=(",", ":"), default=_fallback)


def dumps_payload(value: Any) -> str | None:
    """An event payload: a string is kept as written (upstream stores the raw text)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=_fallback)


def loads_object(text: str | None) -> dict[str, Any]:
    """A JSON object column; NULL, invalid JSON or a non-object read as ``{}``."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # (a payload stored as sent: "[[[[...")
        return {}
    return value if isinstance(value, dict) else {}


def loads_any(text: str | None) -> Any:
    """A JSON column of any type; text that is not JSON is returned as written."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _fallback(value: Any) -> Any:
    # Contexts may hold objects (sets, paths, custom classes); a snapshot must never fail.
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def row_dict(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """``row_factory`` giving plain dicts keyed by column name."""
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


#: a machine's context as a column (NULL when empty), and back (a checkpoint, the registry)
dumps_context = dumps
loads_context = loads_object
