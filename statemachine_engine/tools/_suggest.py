""" "Did you mean" hints for names that are close to a valid one."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'processing'?)`` or an empty string."""
    close = difflib.get_close_matches(name, sorted(set(valid)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def closest(name: str, valid: Iterable[str], cutoff: float = 0.6) -> str | None:
    close = difflib.get_close_matches(name, sorted(set(valid)), n=1, cutoff=cutoff)
    return close[0] if close else None


def listing(names: Iterable[str], limit: int = 12) -> str:
    """``a, b, c`` (cut after ``limit`` names)."""
    items = sorted(set(names))
    if not items:
        return "(none)"
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
