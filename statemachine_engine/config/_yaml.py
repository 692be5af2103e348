"""YAML reading: one bounded safe load that keeps positions, and the legacy comment state
groups.

Every tool and the runtime read YAML through :func:`load_yaml`: whatever the text, it gives
the data or one :class:`ConfigError` with the line and column, in bounded time and memory
(the limits are in ``config._yaml_loader``)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.reader import ReaderError

from statemachine_engine._strict_json import surrogate_in
from statemachine_engine.config._yaml_loader import LimitError, Loader
from statemachine_engine.errors import ConfigError, ConfigIssue

#: a node's address in a document: keys and list indexes from the root, such as
#: ``("transitions", 3, "to")`` (written ``$.transitions[3].to``)
Path = tuple[str | int, ...]
#: path -> (line, column), both from 1; ``(*path, "<key>")`` holds where a mapping key sits,
#: and ``(*path, DUPLICATE)`` where the same key appears again in its mapping (YAML keeps the
#: last value silently, so the checker reports it without parsing the text a second time)
Positions = dict[Path, tuple[int, int]]
DUPLICATE = "<duplicate>"


def format_path(path: Path) -> str:
    """``("transitions", 3, "to")`` -> ``$.transitions[3].to``."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def load_yaml(text: str, file: str | None = None) -> tuple[Any, Positions]:
    """Parse one YAML document; return the data and the (line, column) of every node.

    Raises ConfigError with one issue, at its line and column, for a syntax error, a
    character YAML does not allow, or a document past the loader's limits (alias bombs,
    recursive aliases, deep nesting, huge values).
    """
    loader: Loader | None = None
    try:
        loader = Loader(text)
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except LimitError as exc:
        raise _error(f"YAML refused: {exc.problem}", file, exc.problem_mark) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise _error(f"YAML syntax error: {problem}", file, mark) from None
    except ReaderError as exc:
        line, column = _line_column(text, exc.position)
        char = exc.character
        what = f"character U+{char:04X}" if isinstance(char, int) else f"character {char!r}"
        raise _error(
            f"YAML error: {what} is not allowed in YAML ({exc.reason}); remove it or write it "
            "as an escape inside a double-quoted string",
            file,
            None,
            line,
            column,
        ) from None
    except RecursionError:
        mark = loader.get_mark() if loader is not None else None
        raise _error("YAML error: the document is nested too deeply", file, mark) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(f"YAML error: {exc}", file=file)], file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    positions: Positions = {}
    if node is not None:
        try:
            _collect_positions(node, (), positions)
        except _NotText as exc:
            raise _error(str(exc), file, exc.mark) from None
    return data, positions


def _error(
    message: str,
    file: str | None,
    mark: yaml.Mark | None,
    line: int | None = None,
    column: int | None = None,
) -> ConfigError:
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    issue = ConfigIssue(message, file=file, line=line, column=column)
    return ConfigError([issue], file=file)


def _line_column(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _collect_positions(node: yaml.Node, path: Path, out: Positions) -> None:
    out[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.ScalarNode):
        _check_text(node, path)
    elif isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _check_text(key, (*path, "<key>"))
            name = key.value if isinstance(key, yaml.ScalarNode) else str(key.start_mark)
            where = (key.start_mark.line + 1, key.start_mark.column + 1)
            if name in seen:
                out.setdefault((*path, name, DUPLICATE), where)
            seen.add(name)
            out.setdefault((*path, name, "<key>"), where)
            _collect_positions(value, (*path, name), out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _collect_positions(item, (*path, index), out)


def _check_text(node: yaml.ScalarNode, path: Path) -> None:
    """Refuse a scalar that is not Unicode text: a double-quoted ``"\\ud800"`` escapes one
    half of a surrogate pair, which no file, database or socket can carry (a runtime's
    history writer failed on a state named so)."""
    bad = surrogate_in(node.value)
    if bad is None:
        return
    is_key = path[-1:] == ("<key>",)
    where = f"a key of {format_path(path[:-1])}" if is_key else format_path(path)
    raise _NotText(
        f"YAML error: {where} holds an unpaired surrogate ({bad}), which is not Unicode "
        "text; write the character itself, or both halves of its pair",
        node.start_mark,
    )


class _NotText(Exception):
    def __init__(self, message: str, mark: yaml.Mark) -> None:
        super().__init__(message)
        self.mark = mark


def position_of(positions: Positions, path: Path) -> tuple[int | None, int | None]:
    """The position of ``path``, else of its nearest ancestor that exists."""
    while True:
        if path in positions:
            return positions[path]
        if not path:
            return None, None
        path = path[:-1]


_GROUP_MARK = re.compile(r"#\s*===")


def comment_state_groups(text: str) -> dict[str, list[str]]:
    """Groups declared as ``# === NAME ===`` comments inside the ``states:`` list.

    This is the published package's convention; ``state_groups:`` is the first-class form.
    A trailing ``STATES`` word is dropped from the name (``MAIN LOOP STATES`` -> ``MAIN LOOP``).
    """
    groups: dict[str, list[str]] = {}
    current: str | None = None
    inside = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if not inside:
            inside = raw.startswith("states:")
            continue
        if raw and not raw[0].isspace() and not raw.startswith("#") and ":" in raw:
            break
        if _GROUP_MARK.search(stripped) and stripped.startswith("#"):
            name = stripped[1:].replace("=", "").strip()
            if name.endswith(" STATES"):
                name = name[: -len(" STATES")].strip()
            current = name
            groups.setdefault(current, [])
        elif stripped.startswith("- ") and current is not None:
            state = stripped[2:].split("#", 1)[0].strip().strip("'\"")
            if state:
                groups[current].append(state)
    return {name: states for name, states in groups.items() if states}
