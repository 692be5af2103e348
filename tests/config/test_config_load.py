"""What a valid configuration loads into: the published schema plus the new keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine_engine.config import (
    CONVENTIONAL_FINAL_STATES,
    ActionSpec,
    EventSpec,
    comment_state_groups,
    load_config,
    load_config_text,
    load_yaml,
    timeout_seconds,
)


def test_on_off_yes_no_stay_strings() -> None:
    spec = load_config_text(
        """\
initial_state: off
states: [on, off, yes, no, y, n]
transitions:
  - {from: off, to: on, event: yes}
  - {from: on, to: off, event: no}
template: true
"""
    )
    assert spec.initial_state == "off"
    assert spec.states == ("on", "off", "yes", "no", "y", "n")
    assert [(t.from_, t.event, t.to) for t in spec.transitions] == [
        (("off",), "yes", "on"),
        (("on",), "no", "off"),
    ]
    assert spec.template is True


def test_load_yaml_keeps_real_booleans_and_positions() -> None:
    data, positions = load_yaml("a: true\nb: False\nc: on\nd:\n  - x\n")
    assert data == {"a": True, "b": False, "c": "on", "d": ["x"]}
    assert positions[("d", 0)] == (5, 5)
    assert positions[("c",)] == (3, 4)


def test_events_list_form() -> None:
    spec = load_config_text("events: [go, stop, 'timeout(5)']\n")
    assert spec.events == {
        "go": EventSpec("go"),
        "stop": EventSpec("stop"),
        "timeout(5)": EventSpec("timeout(5)"),
    }


def test_events_dict_form_with_context_map() -> None:
    spec = load_config_text(
        """\
events:
  transcribed:
    context_map:
      user_utterance: payload.user_utterance
  speak_done: {}
  hangup:
"""
    )
    assert spec.events == {
        "transcribed": EventSpec("transcribed", {"user_utterance": "payload.user_utterance"}),
        "speak_done": EventSpec("speak_done"),
        "hangup": EventSpec("hangup"),
    }


def test_from_as_name_list_and_wildcard() -> None:
    spec = load_config_text(
        """\
transitions:
  - {from: waiting, to: a, event: e1}
  - {from: [a, b], to: waiting, event: e2}
  - {from: "*", to: waiting, event: reset}
"""
    )
    t0, t1, t2 = spec.transitions
    assert (t0.from_, t1.from_, t2.from_) == (("waiting",), ("a", "b"), ("*",))
    assert (t0.wildcard, t1.wildcard, t2.wildcard) == (False, False, True)
    assert [t.index for t in spec.transitions] == [0, 1, 2]
    assert [t.line for t in spec.transitions] == [2, 3, 4]
    assert t1.applies_to("b") and not t1.applies_to("waiting") and t2.applies_to("anything")


@pytest.mark.parametrize(
    ("event", "seconds"),
    [("timeout(5)", 5.0), ("timeout(2.5)", 2.5), ("timeout(0)", 0.0), ("go", None)],
)
def test_timeout_seconds(event: str, seconds: float | None) -> None:
    assert timeout_seconds(event) == seconds


def test_action_keys_top_level_and_under_params() -> None:
    spec = load_config_text(
        """\
actions:
  waiting:
    - type: log
      message: top
      success: done
    - type: log
      params:
        message: nested
        level: warning
    - type: log
      message: both
      params: {message: from_params}
"""
    )
    top, nested, both = spec.actions["waiting"]
    assert top == ActionSpec(
        "log",
        {"type": "log", "message": "top", "success": "done"},
        path="$.actions.waiting[0]",
        line=3,
    )
    assert top.get("message") == "top" and top.get("success") == "done"
    assert nested.get("message") == "nested" and nested.get("level") == "warning"
    assert nested.get("missing", "dflt") == "dflt"
    assert nested.params == {"message": "nested", "level": "warning"}
    assert both.get("message") == "both"  # the top level is read first
    assert both.params == {"message": "from_params"}  # merged: params wins


def test_transition_actions_are_placed() -> None:
    spec = load_config_text(
        """\
transitions:
  - from: waiting
    to: done
    event: go
    actions:
      - {type: log, message: leaving}
"""
    )
    (action,) = spec.transitions[0].actions
    assert (action.type, action.path, action.line) == ("log", "$.transitions[0].actions[0]", 6)


def test_explicit_final_states_replace_the_convention() -> None:
    spec = load_config_text(
        "states: [waiting, stopped, shutdown, completed, finished]\nfinal_states: [finished]\n"
    )
    assert spec.final_states == frozenset({"finished"})


def test_conventional_final_states_without_the_key() -> None:
    assert frozenset({"stopped", "shutdown", "completed"}) == CONVENTIONAL_FINAL_STATES
    spec = load_config_text("states: [waiting, stopped, shutdown, completed, done]\n")
    assert spec.final_states == CONVENTIONAL_FINAL_STATES
    spec = load_config_text("transitions:\n  - {from: waiting, to: completed, event: go}\n")
    assert spec.final_states == frozenset({"completed"})


def test_empty_final_states_means_no_final_state() -> None:
    spec = load_config_text("states: [waiting, stopped]\nfinal_states: []\n")
    assert spec.final_states == frozenset()


STATE_GROUP_COMMENTS = """\
name: grouped
states:
  # === MAIN LOOP STATES ===
  - waiting
  - processing   # the busy one
  # === COMPLETION ===
  - "completed"
  # === EMPTY ===
transitions:
  - {from: waiting, to: processing, event: go}
"""


def test_state_groups_from_comments() -> None:
    spec = load_config_text(STATE_GROUP_COMMENTS)
    assert spec.state_groups == {
        "MAIN LOOP": ("waiting", "processing"),
        "COMPLETION": ("completed",),
    }
    assert comment_state_groups(STATE_GROUP_COMMENTS) == {
        "MAIN LOOP": ["waiting", "processing"],
        "COMPLETION": ["completed"],
    }


def test_state_groups_key_wins_over_comments() -> None:
    spec = load_config_text(STATE_GROUP_COMMENTS + "state_groups:\n  ALL: [waiting, processing]\n")
    assert spec.state_groups == {"ALL": ("waiting", "processing")}


def test_states_before_the_first_group_marker_belong_to_no_group() -> None:
    text = "states:\n  - waiting\n  # === LATER ===\n  - done\n"
    assert comment_state_groups(text) == {"LATER": ["done"]}


def test_template_and_metadata_and_names(tmp_path: Path) -> None:
    path = tmp_path / "image_worker.yaml"
    path.write_text(
        "name: Image worker\ndescription: d\ntemplate: true\nmetadata: {machine_name: img}\n"
    )
    spec = load_config(path)
    assert (spec.name, spec.description, spec.template) == ("Image worker", "d", True)
    assert (spec.machine_name, spec.default_name) == ("img", "img")
    assert (spec.source, spec.config_type) == (str(path), "image_worker")
    plain = load_config_text("name: x\n", file="some/dir/controller.yaml")
    assert (plain.machine_name, plain.default_name, plain.template) == (None, "controller", False)


def test_unknown_keys_are_kept_in_extra_and_reported_as_warnings() -> None:
    spec = load_config_text(
        """\
initial_state: idle
stats: [idle]
x_custom: {a: 1}
transitions:
  - {from: idle, to: idle, event: go, guard: x}
events:
  go:
    contxt_map: {}
""",
        file="m.yaml",
    )
    assert spec.extra == {"stats": ["idle"], "x_custom": {"a": 1}}
    top_keys = (
        "actions, actions_root, description, durable, events, final_states, initial_state,"
        " known_context, metadata, name, state_groups, states, template, transitions"
    )
    assert [str(w) for w in spec.warnings] == [
        f"m.yaml:2:1: warning: $.stats: unknown key 'stats' is ignored (did you mean 'states'?);"
        f" valid: {top_keys}",
        f"m.yaml:3:1: warning: $.x_custom: unknown key 'x_custom' is ignored; valid: {top_keys}",
        "m.yaml:5:39: warning: $.transitions[0].guard: unknown key 'guard' in transition; valid:"
        " actions, description, event, from, guard_description, to",
        "m.yaml:8:5: warning: $.events.go.contxt_map: unknown key 'contxt_map' in event"
        " (did you mean 'context_map'?); valid: context_map, description",
    ]
    assert spec.transitions[0].event == "go"  # the transition still loads


def test_actions_root_is_kept_in_extra_without_a_warning() -> None:
    spec = load_config_text("actions_root: ./actions\n")
    assert spec.extra == {"actions_root": "./actions"}
    assert spec.warnings == ()


def test_all_states_in_file_order() -> None:
    spec = load_config_text(
        """\
initial_state: a
transitions:
  - {from: [b, "*"], to: c, event: x}
actions:
  d: [{type: log, message: hi}]
"""
    )
    assert spec.all_states == ("a", "b", "c", "d")


def test_spec_is_frozen() -> None:
    spec = load_config_text("name: x\n")
    with pytest.raises(AttributeError):
        spec.name = "y"  # type: ignore[misc]
