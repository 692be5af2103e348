"""The one way JSON from outside is read: standard JSON only, no NaN or Infinity.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (and turns ``1e999`` into
infinity), which no other JSON parser does: relayed to the monitor, such a message makes the
browser's ``JSON.parse`` fail and the UI drop it without a word. Every place that reads JSON
from a socket, a flag or a file a user writes goes through :func:`loads`, which refuses them.
"""

from __future__ import annotations

import json
import math
from typing import Any


class NonStandardJSON(ValueError):
    """JSON that only Python would accept: ``NaN``, ``Infinity``, or a number too large."""


def _constant(name: str) -> Any:
    raise NonStandardJSON(
        f"{name} is not a JSON value (standard JSON has no NaN or Infinity; send null or a "
        "string instead)"
    )


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonStandardJSON(
            f"the number {text[:40]} is too large for a JSON number (it would be Infinity)"
        )
    return value


#: built once: ``json.loads`` with hooks builds a new decoder per call, which the monitor
#: paid for every event line it read
_DECODER = json.JSONDecoder(parse_constant=_constant, parse_float=_float)


def loads(text: str | bytes) -> Any:
    """``json.loads`` for standard JSON. Raises json.JSONDecodeError for malformed text,
    :class:`NonStandardJSON` for NaN, Infinity or an overflowing number, and ValueError
    for an integer too long to convert."""
    if isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        # as json.loads: a byte-order mark in text is an error, not whitespace
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)
