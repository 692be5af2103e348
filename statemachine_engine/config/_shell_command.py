"""A ``bash`` command template made safe: values go to the shell as variables, never as text.

Each ``{placeholder}`` of the template is replaced by a reference to an environment variable
(``SM_ARG_1``, ``SM_ARG_2``, ...) that holds its value, quoted for where it stands, so the
shell expands the value but never parses it, wherever the placeholder sits (here-documents
and comments included):

==================  =====================  ==============================================
placeholder in      becomes                the shell sees
==================  =====================  ==============================================
a plain word        ``"${SM_ARG_1}"``      one word, the value verbatim (as shlex quoting)
``"... {x} ..."``   ``${SM_ARG_1}``        the value inside the same string
``'... {x} ...'``   ``'"${SM_ARG_1}"'``    the string closed, the value, the string reopened
``$'... {x} ...'``  ``'"${SM_ARG_1}"$'``   the same for ANSI-C quoting
a here-document     ``${SM_ARG_1}``        the value in the document's text
``$(( {x} ))``      ``${SM_ARG_1}``        the value, which must then be an integer
a ``#`` comment     left as written        nothing
==================  =====================  ==============================================

So a template whose placeholders already sat in quotes gives the same strings as before.
What no quoting can protect is a value handed to something that runs it as code (``eval``,
``sh -c``, ``ssh``, a quoted here-document, ...): :func:`shell_hazards` names those, the
loader refuses them, and :func:`shell_command` raises :class:`UnsafeCommand`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from statemachine_engine.config._interpolate import MISSING, lookup, text_of
from statemachine_engine.config._shell_rules import SAFE_SPELLING
from statemachine_engine.config._shell_scan import Site, scan

#: prefix of the variables that carry placeholder values (``SM_ARG_1``, ...)
ARG_PREFIX = "SM_ARG_"
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*\Z")


@attrs.frozen
class ShellCommand:
    """The command text to run and the variables its references name."""

    text: str
    env: Mapping[str, str]


@attrs.frozen
class ShellHazard:
    """A placeholder whose value the command would run as code."""

    placeholder: str  # as written, e.g. ``{name}``
    line: int  # in the template, from 1
    column: int
    reason: str

    @property
    def message(self) -> str:
        return (
            f"placeholder {self.placeholder} (line {self.line} of the command) stands where "
            f"its value would run as code: {self.reason}"
        )

    @property
    def fix(self) -> str:
        return SAFE_SPELLING % (self.placeholder, self.placeholder)


class UnsafeCommand(ValueError):
    """A template with placeholders where their values would run as code."""

    def __init__(self, hazards: list[ShellHazard]) -> None:
        self.hazards = hazards
        first = hazards[0]
        super().__init__(f"{first.message}; {first.fix}")


def shell_hazards(template: str) -> list[ShellHazard]:
    """Every placeholder of ``template`` whose value would be run as code."""
    return [_hazard(template, site) for site in scan(template) if site.hazard]


def _hazard(template: str, site: Site) -> ShellHazard:
    start = site.match.start()
    line = template.count("\n", 0, start) + 1
    column = start - (template.rfind("\n", 0, start) + 1) + 1
    return ShellHazard(site.match.group(0), line, column, site.hazard or "")


def shell_command(template: str, context: Mapping[str, Any]) -> ShellCommand:
    """The command to run for ``template`` with placeholders read from ``context``.

    Unknown placeholders stay as written. Raises :class:`UnsafeCommand` for a placeholder
    whose value would run as code, and ValueError for a value that cannot be passed (a NUL
    byte) or a non-integer value in arithmetic.
    """
    sites = scan(template)
    hazards = [_hazard(template, s) for s in sites if s.hazard]
    if hazards:
        raise UnsafeCommand(hazards)
    out: list[str] = []
    env: dict[str, str] = {}
    names: dict[str, str] = {}
    done = 0
    for site in sites:
        match = site.match
        if site.where == "comment":
            continue
        found = lookup(match, context)
        if found is MISSING:
            continue
        value = text_of(found)
        written = match.group(0)
        if "\0" in value:
            raise ValueError(f"the value of {written} holds a NUL byte, which no command accepts")
        if site.where == "arith" and not _INTEGER.match(value):
            raise ValueError(
                f"{written} stands in arithmetic, where the shell would evaluate its value: "
                f"it must be an integer, got {value[:40]!r}"
            )
        name = names.get(written)
        if name is None:
            name = names[written] = f"{ARG_PREFIX}{len(names) + 1}"
            env[name] = value
        out.append(template[done : match.start()])
        out.append(_reference(name, site.where))
        done = match.end()
    out.append(template[done:])
    return ShellCommand("".join(out), env)


def _reference(name: str, where: str) -> str:
    if where == "word":
        return f'"${{{name}}}"'
    if where == "single":
        return f"'\"${{{name}}}\"'"
    if where == "ansi":
        return f"'\"${{{name}}}\"$'"
    return f"${{{name}}}"  # inside double quotes, a here-document, arithmetic
