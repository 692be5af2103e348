"""Two small rules of config/ that the checker and the runtime share: where the YAML loader
marks a repeated key, and how ``{primary|fallback}`` of a shell command is resolved."""

from __future__ import annotations

from statemachine_engine.config import DUPLICATE, fallbacks, load_yaml, resolve_fallbacks


def test_a_repeated_key_is_marked_where_it_repeats_only() -> None:
    text = "actions:\n  idle: [a]\nactions:\n  idle: [b]\n"
    data, positions = load_yaml(text)
    assert data == {"actions": {"idle": ["b"]}}  # YAML keeps the last one
    marks = {path: where for path, where in positions.items() if path[-1:] == (DUPLICATE,)}
    # the same key in two different mappings is no repetition
    assert marks == {("actions", DUPLICATE): (3, 1)}


def test_fallbacks_are_two_names_and_filters_are_not() -> None:
    text = "echo {a|b.c} {n|length} {d|default:x} {e}"
    assert fallbacks(text) == [("{a|b.c}", "a", "b.c")]


def test_the_first_name_with_a_value_is_taken() -> None:
    template = "cp {src|job.path} {dst|out}"
    assert resolve_fallbacks(template, {"src": None, "job": {"path": "/p"}, "dst": "d"}) == (
        "cp {job.path} {dst}"
    )
    # neither has a value: the fallback stays, to be reported as unresolved
    assert resolve_fallbacks("{x|y}", {}) == "{y}"
