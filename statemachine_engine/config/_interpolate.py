"""``{name}`` placeholders: context lookup with filters and type preservation.

Grammar: ``{a.b.c}`` optionally followed by filters ``|length``, ``|default:x`` and ``|json``.
A string that is exactly one placeholder keeps the value's type; otherwise the result is text.
Unknown placeholders (and ``None`` values without a default) stay as written. One pass: a
substituted value is never scanned again. (Shell commands are filled differently: see
``config._shell_command``; there, as in the published package, ``{primary|fallback}`` names
two placeholders and takes the first that has a value: :func:`resolve_fallbacks`.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(
    r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"(?P<filters>(?:\|[A-Za-z_]+(?::[^{}|]*)?)*)\}"
)
MISSING = object()
KNOWN_FILTERS = ("default", "json", "length")
_FALLBACK = re.compile(
    r"\{(?P<first>[A-Za-z_][A-Za-z0-9_.]*)\|(?P<second>[A-Za-z_][A-Za-z0-9_.]*)\}"
)


def resolve_path(root: Any, dotted: str, default: Any = None) -> Any:
    """Walk ``a.b.0.c`` through mappings (and lists by index); ``default`` when it breaks."""
    value = root
    for part in dotted.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return default
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
    return value


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def lookup(match: re.Match[str], context: Mapping[str, Any]) -> Any:
    value = resolve_path(context, match.group("name"), MISSING)
    if value is None:
        value = MISSING
    for spec in filter(None, match.group("filters").split("|")):
        name, _, arg = spec.partition(":")
        if name == "default":
            if value is MISSING:
                value = _literal(arg)
        elif name == "length":
            if value is not MISSING:
                try:
                    value = len(value)
                except TypeError:
                    value = MISSING
        elif name == "json":
            if value is not MISSING:
                value = json.dumps(value, default=str)
        else:
            return MISSING  # unknown filter: leave the placeholder as written
    return value


def text_of(value: Any) -> str:
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    return str(value)


def interpolate(value: Any, context: Mapping[str, Any]) -> Any:
    """Replace placeholders in ``value`` (recursively in dicts and lists; keys are kept)."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None:
            found = lookup(whole, context)
            return value if found is MISSING else found

        def sub(match: re.Match[str]) -> str:
            found = lookup(match, context)
            return match.group(0) if found is MISSING else text_of(found)

        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, Mapping):
        return {k: interpolate(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [interpolate(v, context) for v in value]
    return value


def placeholders(value: Any) -> list[str]:
    """Every placeholder name (``a.b``) used in ``value``, recursively."""
    if isinstance(value, str):
        return [m.group("name") for m in _PLACEHOLDER.finditer(value)]
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in placeholders(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in placeholders(v)]
    return []


def fallbacks(template: str) -> list[tuple[str, str, str]]:
    """Each ``{primary|fallback}`` of a shell command: ``(as written, primary, fallback)``.

    ``{x|length}`` and the other filters are not fallbacks.
    """
    return [
        (m.group(0), m.group("first"), m.group("second"))
        for m in _FALLBACK.finditer(template)
        if m.group("second") not in KNOWN_FILTERS
    ]


def resolve_fallbacks(template: str, lookup: Mapping[str, Any]) -> str:
    """Rewrite each ``{primary|fallback}`` to whichever of the two has a value (filters
    excepted); only names change, never values, so shell quoting still applies afterwards."""

    def choose(match: re.Match[str]) -> str:
        first, second = match.group("first"), match.group("second")
        if second in KNOWN_FILTERS:
            return match.group(0)
        return "{%s}" % (first if resolve_path(lookup, first) is not None else second)

    return _FALLBACK.sub(choose, template)
