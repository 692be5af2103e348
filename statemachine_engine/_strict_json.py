"""The one way JSON from outside is read: standard JSON only, no NaN or Infinity.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``-Infinity`` (and turns ``1e999`` into
infinity), which no other JSON parser does: relayed to the monitor, such a message makes the
browser's ``JSON.parse`` fail and the UI drop it without a word. Every place that reads JSON
from a socket, a flag or a file a user writes goes through :func:`loads`, which refuses them.
"""

from __future__ import annotations

import json
import math
import re
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
#: the escape of a UTF-16 surrogate (``\\ud800`` to ``\\udfff``)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(text: str | bytes) -> Any:
    """``json.loads`` for standard JSON. Raises json.JSONDecodeError for malformed text,
    :class:`NonStandardJSON` for NaN, Infinity, an overflowing number or a string that is
    not Unicode text (an unpaired surrogate), and ValueError for an integer too long to
    convert. A document nested too deeply is a json.JSONDecodeError too."""
    if isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        # as json.loads: a byte-order mark in text is an error, not whitespace
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        value = _DECODER.decode(text)
    except RecursionError:
        # a document nested deeper than the interpreter's stack (``[[[[...``): malformed
        # for our purposes, and a ValueError like every other refusal here
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    # A surrogate alone (written raw, or as an escape such as \ud800; only a pair of them
    # is a character) decodes into a str that cannot be encoded: stored, logged or relayed,
    # it fails far from here (a runtime's history writer failed on one). Looked for only
    # when the text could hold one, so an ASCII line without escapes costs two scans.
    if not text.isascii() or ("\\u" in text and _SURROGATE_ESCAPE.search(text)):
        _refuse_surrogates(value)
    return value


def surrogate_in(text: str) -> str | None:
    """Half of a UTF-16 surrogate pair standing alone in ``text``, written as its escape
    (``\\ud800``), else None. Such a str -- from an escape in JSON or YAML, or from bytes
    that were not UTF-8 in a command line or a file name -- is not Unicode text: no file,
    database or socket line can carry it."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return ascii(text[exc.start])[1:-1]
    return None


def _refuse_surrogates(value: Any) -> None:
    if isinstance(value, str):
        bad = surrogate_in(value)
        if bad is not None:
            raise NonStandardJSON(
                f"a string holds an unpaired surrogate ({bad}), which is not "
                "Unicode text; send the character itself, or both halves of its pair"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_surrogates(key)
            _refuse_surrogates(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_surrogates(item)
