"""Load-time errors: every message pinned verbatim, with file:line:col and the YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine_engine.config import load_config, load_config_text
from statemachine_engine.errors import ConfigError, ConfigIssue


def errors_of(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, file="m.yaml", **kwargs)  # type: ignore[arg-type]
    return [str(issue) for issue in caught.value.errors]


def test_missing_initial_state_when_waiting_is_not_declared() -> None:
    text = """\
states: [idle, busy]
transitions:
  - {from: idle, to: busy, event: go}
"""
    assert errors_of(text) == [
        "m.yaml:1:1: error: $: initial_state is missing and the default 'waiting' is not among"
        " the declared states; add initial_state: <one of idle, busy>"
    ]


def test_missing_initial_state_is_fine_when_waiting_is_declared() -> None:
    spec = load_config_text("states: [waiting, done]\n")
    assert spec.initial_state == "waiting"


def test_missing_initial_state_is_fine_without_states() -> None:
    spec = load_config_text("transitions:\n  - {from: waiting, to: done, event: go}\n")
    assert spec.initial_state == "waiting"


def test_initial_state_not_declared_suggests_the_close_name() -> None:
    text = "initial_state: strat\nstates: [start, end]\n"
    assert errors_of(text) == [
        "m.yaml:1:16: error: $.initial_state: initial state 'strat' is not declared in states"
        " (did you mean 'start'?); valid: end, start"
    ]


def test_undeclared_from_and_to_in_name_and_list_forms_all_reported() -> None:
    text = """\
initial_state: idle
states: [idle, busy]
transitions:
  - {from: idel, to: busy, event: go}
  - {from: [idle, bussy], to: done, event: go2}
  - {from: "*", to: idle, event: reset}
"""
    assert errors_of(text) == [
        "m.yaml:4:12: error: $.transitions[0].from: state 'idel' is not declared in states"
        " (did you mean 'idle'?); valid: busy, idle",
        "m.yaml:5:19: error: $.transitions[1].from[1]: state 'bussy' is not declared in states"
        " (did you mean 'busy'?); valid: busy, idle",
        "m.yaml:5:31: error: $.transitions[1].to: state 'done' is not declared in states;"
        " valid: busy, idle",
    ]


def test_undeclared_states_are_allowed_when_states_is_not_declared() -> None:
    spec = load_config_text("transitions:\n  - {from: anywhere, to: elsewhere, event: go}\n")
    assert spec.all_states == ("waiting", "anywhere", "elsewhere")


def test_undeclared_action_state_and_final_state_and_group_member() -> None:
    text = """\
initial_state: idle
states: [idle, done]
final_states: [dne]
state_groups:
  MAIN: [idle, dnoe]
actions:
  idel:
    - {type: log, message: hi}
"""
    assert errors_of(text) == [
        "m.yaml:3:15: error: $.final_states: final state 'dne' is not declared in states"
        " (did you mean 'done'?); valid: done, idle",
        "m.yaml:5:9: error: $.state_groups.MAIN: state 'dnoe' in group 'MAIN' is not declared in"
        " states (did you mean 'done'?); valid: done, idle",
        "m.yaml:7:3: error: $.actions.idel: actions for undeclared state 'idel'"
        " (did you mean 'idle'?); valid: done, idle",
    ]


def test_unknown_action_type_lists_the_known_ones() -> None:
    text = """\
initial_state: idle
states: [idle]
actions:
  idle:
    - type: lgo
      message: hi
"""
    assert errors_of(text, known_actions=["log", "bash"]) == [
        "m.yaml:5:13: error: $.actions.idle[0].type: unknown action type 'lgo'"
        " (did you mean 'log'?); valid: bash, log"
    ]


def test_unknown_action_type_in_a_transition() -> None:
    text = """\
transitions:
  - from: waiting
    to: done
    event: go
    actions:
      - {type: nope}
"""
    assert errors_of(text, known_actions=["log"]) == [
        "m.yaml:6:16: error: $.transitions[0].actions[0].type: unknown action type 'nope';"
        " valid: log"
    ]


def test_load_config_checks_action_types_against_builtins(tmp_path: Path) -> None:
    path = tmp_path / "worker.yaml"
    path.write_text("actions:\n  waiting:\n    - {type: sleeep}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.errors
    assert issue.path == "$.actions.waiting[0].type"
    assert issue.message.startswith("unknown action type 'sleeep' (did you mean 'sleep'?); valid: ")
    assert "log" in issue.message and "set_context" in issue.message


def test_known_actions_none_skips_the_type_check() -> None:
    spec = load_config_text("actions:\n  waiting:\n    - {type: anything_goes}\n")
    assert spec.actions["waiting"][0].type == "anything_goes"


def test_malformed_timeouts() -> None:
    text = """\
transitions:
  - {from: waiting, to: waiting, event: timeout(abc)}
  - {from: waiting, to: waiting, event: "timeout(5s)"}
  - {from: waiting, to: waiting, event: "timeout(-1)"}
  - {from: waiting, to: waiting, event: "timeout (2)"}
"""
    expected = (
        "malformed timeout event {!r}: expected timeout(N) with N a number of seconds such as"
        " timeout(5) or timeout(2.5)"
    )
    assert errors_of(text) == [
        f"m.yaml:{line}:{col}: error: $.transitions[{i}].event: {expected.format(event)}"
        for i, (line, col, event) in enumerate(
            [
                (2, 41, "timeout(abc)"),
                (3, 41, "timeout(5s)"),
                (4, 41, "timeout(-1)"),
                (5, 41, "timeout (2)"),
            ]
        )
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- a\n- b\n",
            "m.yaml:1:1: error: $: a machine configuration must be a YAML mapping, got a list",
        ),
        (
            "hello\n",
            "m.yaml:1:1: error: $: a machine configuration must be a YAML mapping, got str 'hello'",
        ),
        (
            "",
            "m.yaml: error: $: a machine configuration must be a YAML mapping, got nothing (null)",
        ),
    ],
)
def test_non_mapping_document(text: str, message: str) -> None:
    assert errors_of(text) == [message]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "initial_state: a\nstates: [a, b\n",
            "m.yaml:3:1: error: $: YAML syntax error: while parsing a flow sequence expected ','"
            " or ']', but got '<stream end>'",
        ),
        (
            "a: b\n  c: d\n",
            "m.yaml:2:4: error: $: YAML syntax error: mapping values are not allowed here",
        ),
    ],
)
def test_yaml_syntax_error_position(text: str, message: str) -> None:
    assert errors_of(text) == [message]


def test_type_errors_are_reported_with_what_was_expected() -> None:
    text = """\
initial_state: idle
states: [idle]
template: maybe
transitions:
  - {from: idle, to: 3, event: go}
  - {to: idle}
"""
    assert errors_of(text) == [
        "m.yaml:3:11: error: $.template: expected true or false, got str 'maybe'",
        "m.yaml:5:22: error: $.transitions[0].to: expected a string, got int 3",
        "m.yaml:6:5: error: $.transitions[1].from: required key is missing",
        "m.yaml:6:5: error: $.transitions[1].event: required key is missing",
    ]


def test_several_errors_reported_at_once_in_file_order() -> None:
    text = """\
states: [idle, busy]
transitions:
  - {from: idle, to: nowhere, event: go}
  - {from: idle, to: busy, event: timeout(x)}
actions:
  idle:
    - {type: bogus}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, file="m.yaml", known_actions=["log"])
    error = caught.value
    assert [i.path for i in error.errors] == [
        "$",
        "$.transitions[0].to",
        "$.transitions[1].event",
        "$.actions.idle[0].type",
    ]
    assert str(error).splitlines()[0] == "4 errors in m.yaml:"
    assert all(line.startswith("  m.yaml:") for line in str(error).splitlines()[1:])


def test_an_action_without_type() -> None:
    text = "actions:\n  waiting:\n    - {message: x}\n"
    assert errors_of(text) == [
        "m.yaml:3:7: error: $.actions.waiting[0]: an action needs a 'type' key"
    ]


def test_actions_of_a_state_must_be_a_list() -> None:
    text = "actions:\n  waiting: notalist\n"
    assert errors_of(text) == [
        "m.yaml:2:12: error: $.actions.waiting: expected a list of actions, got str 'notalist'"
    ]


def test_an_event_name_must_be_a_string() -> None:
    assert errors_of("events:\n  - a\n  - 3\n") == [
        "m.yaml:3:5: error: $.events[1]: an event name must be a string, got int 3"
    ]


def test_context_map_path_must_be_a_dot_path() -> None:
    text = 'events:\n  go:\n    context_map:\n      x: "payload..y"\n'
    assert errors_of(text) == [
        "m.yaml:4:10: error: $.events.go.context_map.x: context_map path 'payload..y' must be a"
        " dot path such as payload.user.name"
    ]


def test_a_transition_that_is_not_a_mapping_is_an_error_not_a_crash() -> None:
    text = "transitions:\n  - just a string\n  - {from: waiting, to: done, event: go}\n"
    assert errors_of(text) == [
        "m.yaml:2:5: error: $.transitions[0]: expected a mapping with from, to and event,"
        " got str 'just a string'"
    ]


def test_an_action_that_is_not_a_mapping_is_an_error() -> None:
    text = "actions:\n  waiting:\n    - 12\n"
    assert errors_of(text) == [
        "m.yaml:3:7: error: $.actions.waiting[0]: expected a mapping with a 'type' key, got int 12"
    ]


@pytest.mark.parametrize("key", ["states", "final_states", "known_context"])
def test_a_single_name_where_a_list_is_expected_is_an_error(key: str) -> None:
    text = f"initial_state: waiting\n{key}: waiting\n"
    (message,) = errors_of(text)
    assert message == (
        f"m.yaml:2:{len(key) + 3}: error: $.{key}: expected a list of names, got str 'waiting'"
    )


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(caught.value) == f"{missing}: error: $: configuration file not found: {missing}"


def test_config_error_is_a_value_error_with_issue_fields() -> None:
    with pytest.raises(ValueError) as caught:
        load_config_text("initial_state: strat\nstates: [start]\n", file="m.yaml")
    assert isinstance(caught.value, ConfigError)
    assert caught.value.file == "m.yaml"
    assert caught.value.issues == (
        ConfigIssue(
            "initial state 'strat' is not declared in states (did you mean 'start'?); valid: start",
            path="$.initial_state",
            file="m.yaml",
            line=1,
            column=16,
        ),
    )


def test_a_transition_action_that_is_not_a_mapping_is_an_error() -> None:
    text = (
        "transitions:\n  - from: waiting\n    to: a\n    event: go\n    actions: [12, {type: x}]\n"
    )
    assert errors_of(text, known_actions=["log"]) == [
        "m.yaml:5:15: error: $.transitions[0].actions[0]: expected a mapping with a 'type' key,"
        " got int 12",
        "m.yaml:5:26: error: $.transitions[0].actions[1].type: unknown action type 'x'; valid: log",
    ]


def test_from_naming_no_state() -> None:
    text = "transitions:\n  - {from: [], to: a, event: go}\n"
    assert errors_of(text) == ["m.yaml:2:12: error: $.transitions[0].from: 'from' names no state"]
