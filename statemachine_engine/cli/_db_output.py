"""How ``statemachine-db`` prints: aligned tables for people, stable JSON for scripts.

Timestamps are epoch seconds in the database. Tables show local time
(``YYYY-MM-DD HH:MM:SS``); JSON gives each as ISO-8601 UTC under its own name plus the raw
number under ``<name>_epoch``. Trio-free and attrs-free (the command must start fast).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

#: columns holding epoch seconds, in every table the command prints
TIME_KEYS = frozenset(
    {
        "created_at",
        "started_at",
        "completed_at",
        "run_at",
        "lease_until",
        "updated_at",
        "processed_at",
        "last_activity",
        "timestamp",
    }
)


def local_time(epoch: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in local time; empty for None."""
    if not isinstance(epoch, int | float):
        return "" if epoch is None else str(epoch)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def iso_time(epoch: Any) -> Any:
    """ISO-8601 in UTC (``2026-05-01T12:00:00.250000+00:00``); None stays None."""
    if not isinstance(epoch, int | float):
        return epoch
    from datetime import UTC, datetime  # only JSON output needs it

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def json_ready(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row for JSON output: each timestamp as ISO-8601 plus ``<name>_epoch``."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key in TIME_KEYS:
            out[key] = iso_time(value)
            out[f"{key}_epoch"] = value
        else:
            out[key] = value
    return out


def print_json(value: Any, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    json.dump(value, stream, indent=2, ensure_ascii=False, default=str)
    stream.write("\n")


def shorten(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.split())  # one line per row, whatever the content
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned under a header and a rule."""
    cells = [[as_text(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_fields(fields: Sequence[tuple[str, Any]]) -> str:
    """``Label: value`` lines, labels padded to one width; empty values are left out."""
    shown = [(label, as_text(value)) for label, value in fields if value not in (None, "")]
    width = max((len(label) for label, _ in shown), default=0) + 1
    return "\n".join(f"  {(label + ':').ljust(width)} {value}" for label, value in shown)
