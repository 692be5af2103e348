"""``{name}`` placeholders: context lookup with filters, type preservation and shell quoting.

Grammar: ``{a.b.c}`` optionally followed by filters ``|length``, ``|default:x`` and ``|json``.
A string that is exactly one placeholder keeps the value's type; otherwise the result is text.
Unknown placeholders (and ``None`` values without a default) stay as written. One pass: a
substituted value is never scanned again.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(
    r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
    r"(?P<filters>(?:\|[A-Za-z_]+(?::[^{}|]*)?)*)\}"
)
_MISSING = object()
KNOWN_FILTERS = ("default", "json", "length")


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


def _lookup(match: re.Match[str], context: Mapping[str, Any]) -> Any:
    value = resolve_path(context, match.group("name"), _MISSING)
    if value is None:
        value = _MISSING
    for spec in filter(None, match.group("filters").split("|")):
        name, _, arg = spec.partition(":")
        if name == "default":
            if value is _MISSING:
                value = _literal(arg)
        elif name == "length":
            if value is not _MISSING:
                try:
                    value = len(value)
                except TypeError:
                    value = _MISSING
        elif name == "json":
            if value is not _MISSING:
                value = json.dumps(value, default=str)
        else:
            return _MISSING  # unknown filter: leave the placeholder as written
    return value


def _text(value: Any) -> str:
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
            found = _lookup(whole, context)
            return value if found is _MISSING else found

        def sub(match: re.Match[str]) -> str:
            found = _lookup(match, context)
            return match.group(0) if found is _MISSING else _text(found)

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


def interpolate_shell(template: str, context: Mapping[str, Any]) -> str:
    """Interpolate a shell command so that no substituted value can change its meaning.

    Each value is quoted for where it stands: bare words get ``shlex.quote``; inside single
    quotes a ``'`` is written as ``'\\''``; inside double quotes ``\\ " $ `` and backticks are
    escaped; inside ``$(...)`` and backquotes (even within double quotes) the value is a bare
    word again. The command's own text is never altered.
    """
    out: list[str] = []
    # open quoting contexts, innermost last: "'" and '"' quotes, "(" a subshell or "$(",
    # "`" a backquoted substitution; "(" and "`" start a fresh, unquoted context even inside
    # double quotes, so a value there must be quoted as a bare word
    stack: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        ch = template[i]
        top = stack[-1] if stack else None
        if ch == "{":
            match = _PLACEHOLDER.match(template, i)
            if match is not None:
                found = _lookup(match, context)
                if found is _MISSING:
                    out.append(match.group(0))
                else:
                    quoted = _shell_quote(_text(found), top if top in ("'", '"') else None)
                    for _ in range(stack.count("`")):
                        # the shell strips one level of these backslashes inside backquotes
                        quoted = re.sub(r"([\\`$])", r"\\\1", quoted)
                    out.append(quoted)
                i = match.end()
                continue
        if top == "'":
            if ch == "'":
                stack.pop()
        elif ch == "\\" and i + 1 < n:
            out.append(template[i : i + 2])
            i += 2
            continue
        elif top == '"':
            if ch == '"':
                stack.pop()
            elif ch == "`":
                stack.append(ch)
            elif ch == "$" and template.startswith("$(", i):
                stack.append("(")
                out.append("$(")
                i += 2
                continue
        elif ch in "'\"(":
            stack.append(ch)
        elif ch == ")" and top == "(":
            stack.pop()
        elif ch == "`":
            if top == "`":
                stack.pop()
            else:
                stack.append(ch)
        out.append(ch)
        i += 1
    return "".join(out)


def _shell_quote(text: str, quote: str | None) -> str:
    if quote is None:
        return shlex.quote(text)
    if quote == "'":
        return text.replace("'", "'\\''")
    return re.sub(r'([\\"$`])', r"\\\1", text)
