"""The one YAML loader of the project: safe, with bounded work for any input.

A few hundred bytes of YAML can describe a billion nodes through aliases (each ``*a`` is a
reference to a whole anchored tree), nest deep enough to exhaust Python's stack, or hold an
integer too long to convert. This loader composes the document node by node and stops,
with a :class:`LimitError` at the offending line, as soon as one of these limits is passed:

* ``MAX_NODES`` nodes in the document *as expanded* (an alias counts the size of the tree it
  names, so an alias bomb stops after that many, not after a billion);
* ``MAX_DEPTH`` levels of nesting;
* ``MAX_SCALAR`` characters in one value;
* an alias that names a node containing itself (a recursive alias);
* an integer over Python's conversion limit.

Besides, booleans are only ``true``/``false``: ``on``, ``off``, ``yes`` and ``no`` stay strings.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent

#: nodes in the document with every alias expanded
MAX_NODES = 200_000
#: nesting levels (a machine configuration needs fewer than ten)
MAX_DEPTH = 100
#: characters in one scalar value
MAX_SCALAR = 1024 * 1024


class LimitError(yaml.MarkedYAMLError):
    """A document past one of the loader's limits (see the module docstring)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(None, None, problem, mark)


class Loader(yaml.SafeLoader):
    """SafeLoader with the limits of this module and YAML 1.2 booleans."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._expanded = 0
        self._open: set[str] = set()  # anchors whose node is being composed
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)  # undefined aliases raise here
            if event.anchor in self._open:
                raise LimitError(
                    f"recursive alias *{event.anchor}: it names a node that contains it",
                    event.start_mark,
                )
            self._count(self._sizes.get(id(node), 1), event)
            return node
        if isinstance(event, ScalarEvent) and len(event.value) > MAX_SCALAR:
            raise LimitError(
                f"a value of {len(event.value):,} characters; the limit is {MAX_SCALAR:,}",
                event.start_mark,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        anchor = event.anchor if isinstance(event, ScalarEvent | CollectionStartEvent) else None
        if anchor is not None:
            self._open.add(anchor)
        before = self._expanded
        self._count(1, event)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)
        if anchor is not None:
            self._sizes[id(node)] = self._expanded - before
        return node

    def _count(self, nodes: int, event: Any) -> None:
        self._expanded += nodes
        if self._expanded > MAX_NODES:
            raise LimitError(
                f"the document expands to more than {MAX_NODES:,} nodes (aliases repeat "
                "what they name: is this an alias bomb?)",
                event.start_mark,
            )

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        try:
            return int(super().construct_yaml_int(node))
        except ValueError as exc:  # over sys.get_int_max_str_digits() digits
            raise LimitError(
                f"an integer of {len(node.value):,} characters cannot be read ({exc})",
                node.start_mark,
            ) from None


Loader.add_constructor("tag:yaml.org,2002:int", Loader.construct_yaml_int)
Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
