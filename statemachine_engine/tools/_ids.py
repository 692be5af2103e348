"""Mermaid node ids for state and group names: valid, stable and predictable.

The UI finds a state in the rendered diagram by its node id, so the rule is fixed (and the
ids are also listed in ``metadata.json`` under ``state_ids`` and ``group_ids``):

1. Every character other than an ASCII letter, digit or ``_`` becomes ``_``
   (``fact-checking`` -> ``fact_checking``, ``send mail`` -> ``send_mail``).
   For a group name, spaces are first removed (``MAIN LOOP`` -> ``MAINLOOP``, as the
   published package named its composites).
2. An id that is empty, starts with a digit, or would read as a Mermaid keyword
   (``state``, ``note``, ``class``, ``classDef``, ``direction``, ``scale``, ``hide``,
   ``end``, ``stateDiagram``, anything starting with ``default``; case-insensitive) gets
   the prefix ``s_``.
3. Ids are handed out in order: states in the order of ``MachineSpec.all_states``, then
   groups in declaration order, then the wildcard node. An id already taken gets the first
   free suffix ``_2``, ``_3``, ... A group's id also names its diagram file, so it must
   also differ from the other groups' ids, ``main`` and ``metadata`` without regard to case.

A state whose id differs from its name is drawn with its name as the label.
"""

from __future__ import annotations

import re

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_KEYWORDS = frozenset(
    {"state", "note", "class", "classdef", "direction", "scale", "hide", "end", "statediagram"}
)
#: names the diagram files use (``main.mermaid``, ``metadata.json``)
RESERVED_GROUP_IDS = frozenset({"main", "metadata"})


def base_id(name: str, *, group: bool = False) -> str:
    """Rules 1 and 2: the id ``name`` gets when nothing else has taken it."""
    if group:
        name = name.replace(" ", "")
    out = _INVALID.sub("_", name)
    lowered = out.lower()
    if not out or out[0].isdigit() or lowered in _KEYWORDS or lowered.startswith("default"):
        out = "s_" + out
    return out


class IdAllocator:
    """Hands out unique ids (rule 3)."""

    def __init__(self) -> None:
        self._taken: set[str] = set()
        self._files: set[str] = {r.lower() for r in RESERVED_GROUP_IDS}

    def take(self, name: str, *, group: bool = False) -> str:
        """A unique id for ``name``; a group's id also names a file, so it must differ from
        the other groups' ids (and from ``main``/``metadata``) without regard to case."""
        base = base_id(name, group=group)
        candidate, n = base, 1
        while candidate in self._taken or (group and candidate.lower() in self._files):
            n += 1
            candidate = f"{base}_{n}"
        self._taken.add(candidate)
        if group:
            self._files.add(candidate.lower())
        return candidate
