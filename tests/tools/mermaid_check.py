"""A strict reader of the Mermaid subset the diagram tool writes (for tests).

It accepts only the statements the tool emits, checks that ids are plain identifiers, that
braces balance, that every node an edge uses is declared exactly once, and returns what the
diagram holds. Anything else raises AssertionError naming the line.
"""

from __future__ import annotations

import re

import attrs

ID = r"[A-Za-z_][A-Za-z0-9_]*"
# Mermaid reads "#name;" as an entity before parsing, so those are the only ";" and "#" allowed
_LABEL = r'(?:[^"#\n]|#\w+;)*'
_EDGE_LABEL = r"(?:[^:;#\n]|#\w+;)+"
_STATEMENTS = [
    ("comment", re.compile(r"%% .*")),
    ("open", re.compile(rf"state (?P<id>{ID}) \{{")),
    ("close", re.compile(r"\}")),
    ("labelled", re.compile(rf'state "(?P<label>{_LABEL})" as (?P<id>{ID})')),
    ("bare", re.compile(rf"(?P<id>{ID})")),
    (
        "edge",
        re.compile(
            rf"(?P<src>{ID}|\[\*\]) --> (?P<dst>{ID}|\[\*\])(?: : (?P<label>{_EDGE_LABEL}))?"
        ),
    ),
    ("classdef", re.compile(r"classDef [A-Za-z]+ [a-z-]+:[^\n]+")),
    ("class", re.compile(rf"class (?P<ids>{ID}(?:,{ID})*) [A-Za-z]+")),
]
_RESERVED = re.compile(
    r"^(state|note|class|classdef|direction|scale|hide|end|statediagram|default.*)$", re.I
)


@attrs.define
class Diagram:
    #: node id -> its label (the id itself when it has none)
    nodes: dict[str, str] = attrs.field(factory=dict)
    #: node id -> the composite it is declared in (None at the top level)
    parent: dict[str, str | None] = attrs.field(factory=dict)
    composites: list[str] = attrs.field(factory=list)
    edges: list[tuple[str, str, str]] = attrs.field(factory=list)
    classes: dict[str, str] = attrs.field(factory=dict)


def read(text: str) -> Diagram:
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2", lines[0]
    assert text.endswith("\n")
    out = Diagram()
    stack: list[str] = []
    for number, raw in enumerate(lines[1:], start=2):
        assert raw.startswith("    "), f"line {number} not indented: {raw!r}"
        line = raw.strip()
        kind, match = next(
            ((k, m) for k, pattern in _STATEMENTS if (m := pattern.fullmatch(line))),
            (None, None),
        )
        assert kind is not None and match is not None, f"line {number}: {line!r}"
        if kind in ("open", "labelled", "bare"):
            node = match.group("id")
            assert not _RESERVED.match(node), f"line {number}: reserved id {node!r}"
            assert node not in out.nodes, f"line {number}: {node!r} declared twice"
            out.nodes[node] = match.groupdict().get("label") or node
            out.parent[node] = stack[-1] if stack else None
            if kind == "open":
                out.composites.append(node)
                stack.append(node)
        elif kind == "close":
            assert stack, f"line {number}: unbalanced }}"
            stack.pop()
        elif kind == "edge":
            assert not stack, f"line {number}: edges belong at the top level"
            src, dst = match.group("src"), match.group("dst")
            out.edges.append((src, dst, match.group("label") or ""))
        elif kind == "class":
            for node in match.group("ids").split(","):
                out.classes[node] = line.rsplit(" ", 1)[1]
    assert not stack, "unclosed composite"
    for src, dst, _ in out.edges:
        for end in (src, dst):
            assert end == "[*]" or end in out.nodes, f"edge end {end!r} never declared"
    for node in out.classes:
        assert node in out.nodes, f"class on undeclared {node!r}"
    return out
