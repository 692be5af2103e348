"""The checker's decisions, one at a time (the per-code fixtures are in test_lint_codes.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from statemachine_engine.tools import Finding, lint_paths, lint_yaml

LINT = Path(__file__).parent / "fixtures" / "lint"

HEAD = """
initial_state: idle
states: [idle, done]
final_states: [done]
"""
BUSY = """
initial_state: idle
states: [idle, busy, done]
final_states: [done]
"""


def check(body: str, head: str = HEAD, **kwargs: Any) -> list[Finding]:
    return list(lint_yaml(head + body, "m.yaml", **kwargs).findings)


def codes(body: str, head: str = HEAD, **kwargs: Any) -> list[str]:
    return [f.code for f in check(body, head, **kwargs)]


# --- structure -------------------------------------------------------------------------------


def test_timeout_events_never_need_declaring() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: busy, event: go}
  - {from: busy, to: done, event: timeout(2)}
  - {from: busy, to: idle, event: timeout(0.5)}
"""
    assert codes(body, BUSY) == []


def test_undeclared_event_names_the_closest_declared_one() -> None:
    body = """
events: [start_work, stop]
transitions:
  - {from: idle, to: busy, event: start_wrok}
  - {from: busy, to: done, event: stop}
"""
    [finding] = [f for f in check(body) if f.code == "S006"]
    assert "did you mean 'start_work'?" in finding.message
    assert finding.path == "$.transitions[0].event"
    assert finding.line == 8


def test_wildcard_and_specific_on_the_same_event_is_the_override_pattern() -> None:
    body = """
events: [stop]
transitions:
  - {from: "*", to: done, event: stop}
  - {from: idle, to: busy, event: stop}
  - {from: busy, to: done, event: stop}
"""
    assert codes(body, BUSY) == []


def test_from_list_duplicates_are_found_per_state() -> None:
    body = """
events: [go, start]
transitions:
  - {from: idle, to: busy, event: start}
  - {from: [idle, busy], to: done, event: go}
  - {from: busy, to: idle, event: go}
"""
    [finding] = check(body, BUSY)
    assert finding.code == "S008"
    assert "'busy'" in finding.message and "transitions[1]" in finding.message


def test_unknown_keys_in_transitions_and_events() -> None:
    body = """
events:
  go: {context_mapp: {x: payload.x}}
transitions:
  - {from: idle, to: busy, event: go, too: done}
  - {from: busy, to: done, event: go}
"""
    found = {f.path: f for f in check(body) if f.code == "S010"}
    assert "did you mean 'to'?" in found["$.transitions[0].too"].message
    assert "did you mean 'context_map'?" in found["$.events.go.context_mapp"].message


def test_duplicate_key_names_where() -> None:
    text = "initial_state: a\nstates: [a]\ninitial_state: a\n"
    [finding] = [f for f in lint_yaml(text, "m.yaml").findings if f.code == "S015"]
    assert finding.line == 3 and finding.path == "$.initial_state"


# --- reachability ----------------------------------------------------------------------------


def test_conventional_final_names_count_when_there_is_no_final_states_key() -> None:
    head = "initial_state: idle\nstates: [idle, completed]\n"
    body = """
events: [go, again]
transitions:
  - {from: idle, to: completed, event: go}
  - {from: completed, to: idle, event: again}
"""
    [finding] = check(body, head)
    assert finding.code == "R003"
    assert "because of its name" in finding.message


def test_wildcard_transitions_give_every_state_a_way_out() -> None:
    body = """
events: [go, stop]
transitions:
  - {from: idle, to: busy, event: go}
  - {from: "*", to: done, event: stop}
"""
    assert codes(body, BUSY) == []


def test_a_bad_initial_state_is_reported_once_not_as_a_reachability_cascade() -> None:
    head = "initial_state: idel\nstates: [idle, done]\nfinal_states: [done]\n"
    body = "events: [go]\ntransitions:\n  - {from: idle, to: done, event: go}\n"
    assert codes(body, head) == ["S002"]


# --- actions ---------------------------------------------------------------------------------


def test_an_error_transition_from_a_wildcard_handles_an_explicit_error_event() -> None:
    body = """
events: [go, error]
transitions:
  - {from: idle, to: done, event: go}
  - {from: "*", to: done, event: error}
actions:
  idle:
    - {type: bash, command: "true", success: go, error: error}
"""
    assert codes(body) == []


def test_explicit_error_events_are_checked_but_the_implicit_one_is_not() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: bash, command: "true", success: go}
    - {type: bash, command: "true", success: go, error: broke}
"""
    [finding] = [f for f in check(body) if f.code == "A005"]
    assert "'broke'" in finding.message and "its error" in finding.message
    assert finding.path == "$.actions.idle[1]"


def test_error_mappings_values_are_events_the_action_returns() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: bash, command: "exit 3", success: go, error_mappings: {"3": three}}
"""
    [finding] = [f for f in check(body) if f.code == "A005"]
    assert "'three'" in finding.message


def test_fire_and_forget_send_event_returns_nothing() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: send_event, target_machine: other, event_type: hi, fire_and_forget: true}
"""
    assert "A005" not in codes(body)


def test_keys_under_params_count() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - type: bash
      params: {command: "true", success: go, comand: typo}
"""
    [finding] = check(body)
    assert finding.code == "A004"
    assert finding.path == "$.actions.idle[0].params.comand"


def test_send_event_needs_a_target_under_either_name() -> None:
    body = """
events: [go, sent]
transitions:
  - {from: idle, to: done, event: go}
  - {from: idle, to: idle, event: sent}
actions:
  idle:
    - {type: send_event, event_type: hi, success: sent}
    - {type: send_event, target: other, event_type: hi, success: sent}
"""
    [finding] = [f for f in check(body) if f.code == "A003"]
    assert finding.path == "$.actions.idle[0]"
    assert "'target_machine' or 'target'" in finding.message


def test_final_state_actions_may_return_anything() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  done:
    - {type: bash, command: "true"}
"""
    assert "A005" not in codes(body)


def test_custom_action_types_come_from_actions_dirs() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: greet, success: go}
"""
    assert "A001" in codes(body)
    assert codes(body, actions_dirs=[LINT / "actions_ok"]) == []


# --- across machines -------------------------------------------------------------------------


def test_start_fsm_names_count_as_machine_names(tmp_path: Path) -> None:
    (tmp_path / "parent.yaml").write_text(
        """
initial_state: idle
states: [idle, done]
events: [spawned, sent, go]
final_states: [done]
transitions:
  - {from: idle, to: idle, event: spawned}
  - {from: idle, to: idle, event: sent}
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: start_fsm, yaml_path: child.yaml, machine_name: kid, success: spawned}
    - {type: send_event, target_machine: kid, event_type: hello, success: sent}
    - {type: send_event, target_machine: "kid_{job_id}", event_type: nope, success: sent}
"""
    )
    (tmp_path / "child.yaml").write_text(
        """
initial_state: idle
states: [idle, done]
events: [hello]
final_states: [done]
transitions:
  - {from: idle, to: done, event: hello}
"""
    )
    result = lint_paths([tmp_path / "parent.yaml", tmp_path / "child.yaml"])
    assert result.findings == ()
    (tmp_path / "child.yaml").write_text(
        (tmp_path / "child.yaml").read_text().replace("hello", "hi")
    )
    result = lint_paths([tmp_path / "parent.yaml", tmp_path / "child.yaml"])
    assert [f.code for f in result.findings] == ["X002"]


def test_a_single_file_checks_only_sends_to_itself() -> None:
    body = """
events: [go, sent]
metadata: {machine_name: me}
transitions:
  - {from: idle, to: done, event: go}
  - {from: idle, to: idle, event: sent}
actions:
  idle:
    - {type: send_event, target_machine: elsewhere, event_type: anything, success: sent}
    - {type: send_event, target_machine: me, event_type: nothing_handles_this, success: sent}
"""
    assert codes(body) == ["X002"]


# --- filtering -------------------------------------------------------------------------------


def test_select_and_ignore() -> None:
    path = LINT / "S001-fail.yaml"
    assert {f.code for f in lint_paths([path]).findings} == {"S001"}
    assert lint_paths([path], ignore={"S001"}).findings == ()
    assert lint_paths([path], select={"R001"}).findings == ()
