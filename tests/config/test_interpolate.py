"""``{placeholders}``: lookup, filters, type preservation, one pass, and shell quoting."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine_engine.config import ShellCommand, interpolate, resolve_path, shell_command
from statemachine_engine.config._interpolate import placeholders

CONTEXT: dict[str, Any] = {
    "a": {"b": {"c": 7}},
    "items": [10, {"x": "y"}],
    "none": None,
    "zero": 0,
    "false": False,
    "empty": "",
    "d": {"k": 1},
    "lst": [1, 2],
    "s": "hi",
    "ref": "{s}",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{a.b.c}", 7),
        ("{items.1.x}", "y"),
        ("{items.0}", 10),
        ("{items.5}", "{items.5}"),
        ("{a.b.c.d}", "{a.b.c.d}"),
        ("{s}", "hi"),
    ],
)
def test_dot_paths_and_list_indexes(template: str, expected: Any) -> None:
    assert interpolate(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{lst|length}", 2),
        ("{s|length}", 2),
        ("{d|length}", 1),
        ("{zero|length}", "{zero|length}"),  # no length: left as written
        ("{missing|default:x}", "x"),
        ("{missing|default:5}", 5),  # default literals are JSON when they parse
        ("{missing|default:}", ""),
        ("{none|default:dflt}", "dflt"),
        ("{empty|default:x}", ""),  # only missing and null take the default
        ("{a.b.c|default:9}", 7),
        ("{d|json}", '{"k": 1}'),
        ("{s|json}", '"hi"'),
        ("{lst|length|json}", "2"),
        ("{missing|default:[1, 2]|length}", 2),
        ("{missing|json}", "{missing|json}"),
        ("{s|bogus}", "{s|bogus}"),  # unknown filter: left as written
    ],
)
def test_filters(template: str, expected: Any) -> None:
    assert interpolate(template, CONTEXT) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{d}", {"k": 1}),
        ("{lst}", [1, 2]),
        ("{a.b.c}", 7),
        ("{zero}", 0),
        ("{false}", False),
        ("{empty}", ""),
    ],
)
def test_a_whole_placeholder_keeps_its_type(template: str, expected: Any) -> None:
    result = interpolate(template, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("x{d}y", 'x{"k": 1}y'),
        ("x{lst}", "x[1, 2]"),
        ("n={zero} f={false}", "n=0 f=False"),
        ("{s} {s}", "hi hi"),
        ("job {a.b.c}!", "job 7!"),
    ],
)
def test_mixed_text_is_a_string_with_json_for_containers(template: str, expected: str) -> None:
    assert interpolate(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    ["{missing}", "{none}", "{ s }", "{1abc}", "{}", '{"a": 1}', "{a|b|}", "${HOME}"],
)
def test_unknown_none_and_non_placeholders_stay_as_written(template: str) -> None:
    assert interpolate(template, CONTEXT) == template


def test_unknown_placeholders_in_mixed_text_stay_as_written() -> None:
    assert interpolate("v={s} {missing} {none}", CONTEXT) == "v=hi {missing} {none}"


def test_one_pass_no_recursion() -> None:
    assert interpolate("{ref}", CONTEXT) == "{s}"
    assert interpolate("<{ref}>", CONTEXT) == "<{s}>"
    assert interpolate("{{s}}", CONTEXT) == "{hi}"


def test_recursive_over_dicts_and_lists_keys_kept() -> None:
    value = {"{s}": "{d}", "list": ["{s}", 3, None, {"deep": "{a.b.c}"}], "n": 5}
    assert interpolate(value, CONTEXT) == {
        "{s}": {"k": 1},
        "list": ["hi", 3, None, {"deep": 7}],
        "n": 5,
    }


def test_interpolate_does_not_mutate_its_input() -> None:
    value = {"x": ["{s}"]}
    interpolate(value, CONTEXT)
    assert value == {"x": ["{s}"]}


def test_resolve_path() -> None:
    assert resolve_path(CONTEXT, "a.b.c") == 7
    assert resolve_path(CONTEXT, "items.1.x") == "y"
    assert resolve_path(CONTEXT, "items.9", "dflt") == "dflt"
    assert resolve_path(CONTEXT, "s.x", "dflt") == "dflt"
    assert resolve_path(CONTEXT, "none") is None


def test_placeholders_lists_every_name() -> None:
    assert placeholders({"a": "{x} and {y.z|default:1}", "b": ["{w}"], "c": 3}) == [
        "x",
        "y.z",
        "w",
    ]


text_without_braces = st.text().filter(lambda s: "{" not in s)


@given(text_without_braces)
def test_text_without_braces_is_identity(text: str) -> None:
    assert interpolate(text, CONTEXT) is text


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), st.text())
def test_whole_placeholder_returns_the_value_unchanged(name: str, value: str) -> None:
    assert interpolate("{" + name + "}", {name: value}) == value


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=20), st.text())
def test_substituted_values_are_never_rescanned(prefix: str, value: str) -> None:
    assert interpolate(prefix + "{v}", {"v": value, "s": "X"}) == prefix + value


# -- shell quoting -------------------------------------------------------------------------

HOSTILE = [
    "plain",
    "two words",
    "$(echo INJECTED)",
    "`id`",
    "a; echo injected",
    "it's",
    'say "hi"',
    "back\\slash",
    "line1\nline2",
    "$HOME ${HOME} $((1+1))",
    "'\"'\"",
    "*",
    "-n",
    "",
    "a|b&c>d<e",
]


def interpolate_shell(template: str, context: dict[str, Any]) -> ShellCommand:
    return shell_command(template, context)


def sh_args(command: ShellCommand) -> list[str]:
    """Run ``command`` under /bin/sh with a ``show`` function printing each argument
    NUL-terminated; returns the arguments it saw."""
    script = 'show() { for a in "$@"; do printf \'%s\\0\' "$a"; done; }\n' + command.text
    done = subprocess.run(
        ["/bin/sh", "-c", script],
        capture_output=True,
        check=True,
        timeout=10,
        env={**os.environ, **command.env},
    )
    return done.stdout.decode().split("\0")[:-1]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_bare_position_arrives_as_one_verbatim_argument(value: str) -> None:
    assert sh_args(interpolate_shell("show {v}", {"v": value})) == [value]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_single_quoted_position(value: str) -> None:
    assert sh_args(interpolate_shell("show 'pre {v} post'", {"v": value})) == [f"pre {value} post"]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_double_quoted_position(value: str) -> None:
    assert sh_args(interpolate_shell('show "pre {v} post"', {"v": value})) == [f"pre {value} post"]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_value_glued_to_words(value: str) -> None:
    assert sh_args(interpolate_shell("show x{v}y", {"v": value})) == [f"x{value}y"]


@pytest.mark.parametrize("value", HOSTILE)
def test_shell_command_substitution_inside_double_quotes(value: str) -> None:
    # inside "$(...)" the shell starts a new, unquoted context
    command = interpolate_shell('show "got $(printf %s {v})"', {"v": value})
    assert sh_args(command) == [f"got {value}".rstrip("\n")]


@pytest.mark.parametrize(
    "template",
    [
        'show "$(printf %s {v})"',
        "show \"$(printf %s '{v}')\"",
        'show "`printf %s {v}`"',
        'show "`printf %s {v}`"x',
        "show \"`printf %s '{v}'`\"",
        'show "$(printf %s "{v}")"',
        'show "$(printf %s "$(printf %s {v})")"',
        "(show {v})",
    ],
)
# (an unquoted $(...) is word-split by the shell: that is the template's choice, not injection)
@pytest.mark.parametrize("value", ["a; echo INJECTED", "`echo INJECTED`", "it's", "$(echo X)"])
def test_shell_nested_substitutions_keep_the_value_verbatim(template: str, value: str) -> None:
    (arg,) = sh_args(interpolate_shell(template, {"v": value}))
    assert arg == (value + "x" if template.endswith("x") else value)


def test_shell_keeps_the_templates_own_syntax() -> None:
    template = "show \"$X\" '$X' \\{v} {v}; show done ${v}"
    command = interpolate_shell(template, {"v": "a b"})
    assert command.text == 'show "$X" \'$X\' \\{v} "${SM_ARG_1}"; show done ${v}'
    assert command.env == {"SM_ARG_1": "a b"}


def test_shell_several_values_and_unknown_placeholder() -> None:
    command = interpolate_shell(
        "show {a} '{b}' \"{c}\" {missing}", {"a": "1 2", "b": "'", "c": '"'}
    )
    assert sh_args(command) == ["1 2", "'", '"', "{missing}"]


def test_shell_dicts_are_json() -> None:
    assert sh_args(interpolate_shell("show {d}", {"d": {"k": "v w"}})) == ['{"k": "v w"}']


printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(printable)
def test_shell_quoting_round_trips_arbitrary_text(value: str) -> None:
    for template, wrap in (
        ("printf %s {v}", "{}"),
        ("printf %s '{v}'", "{}"),
        ('printf %s "<{v}>"', "<{}>"),
        # the dot keeps trailing newlines, which command substitution would strip
        ('printf %s "$(printf %s. {v})"', "{}."),
        ("printf %s \"`printf %s. '{v}'`\"", "{}."),
    ):
        command = interpolate_shell(template, {"v": value})
        out = subprocess.run(
            ["/bin/sh", "-c", command.text],
            capture_output=True,
            check=True,
            timeout=10,
            env={**os.environ, **command.env},
        ).stdout
        assert out.decode("utf-8", "surrogateescape") == wrap.format(value)
