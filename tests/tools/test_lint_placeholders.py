"""The checker's decisions on placeholders (``P`` codes): which context keys a machine can
read, and when an unknown one is an error or a warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from statemachine_engine.tools import Finding, lint_yaml

LINT = Path(__file__).parent / "fixtures" / "lint"

BUSY = """
initial_state: idle
states: [idle, busy, done]
final_states: [done]
"""
HEAD = """
initial_state: idle
states: [idle, done]
final_states: [done]
"""


def check(body: str, head: str = HEAD, **kwargs: Any) -> list[Finding]:
    return list(lint_yaml(head + body, "m.yaml", **kwargs).findings)


_KNOWN = """
events:
  go:
    context_map: {title: payload.title}
known_context: [declared]
transitions:
  - {from: idle, to: busy, event: go}
  - {from: busy, to: done, event: go}
actions:
  idle:
    - {type: set_context, key: counter, value: 0}
    - {type: add_to_list, list_key: seen, value: "{machine_name}"}
    - {type: pop_from_list, list_key: seen, store_as: item}
  busy:
    - type: log
      message: >-
        {title} {declared} {counter} {seen} {item.name} {event_data.payload.x}
        {current_job.data.y} {last_error} {given} {missing|default:none} ${HOME}
"""


def test_every_way_of_setting_a_context_key_counts() -> None:
    found = check(_KNOWN, BUSY, initial_context=["given"], select={"P001", "P002"})
    assert [f.code for f in found] == []


def test_unknown_roots_are_errors_with_the_fix() -> None:
    found = [f for f in check(_KNOWN, BUSY) if f.code == "P001"]
    assert [(f.severity, f.path) for f in found] == [("error", "$.actions.busy[0].message")]
    assert "{given}" in found[0].message
    assert "known_context" in (found[0].fix or "")


def test_placeholders_inside_payload_dicts_are_checked() -> None:
    body = """
events: [go, sent]
transitions:
  - {from: idle, to: done, event: go}
  - {from: idle, to: idle, event: sent}
actions:
  idle:
    - type: send_event
      target_machine: other
      event_type: hi
      success: sent
      payload: {items: ["{job_id}", {name: "{nobody}"}]}
"""
    [finding] = [f for f in check(body) if f.code == "P001"]
    assert finding.path == "$.actions.idle[0].payload.items[1].name"


def test_after_a_job_claim_unknown_roots_are_warnings() -> None:
    body = """
known_context: [queue]
events: [item_popped, list_empty, go]
transitions:
  - {from: idle, to: busy, event: item_popped}
  - {from: idle, to: done, event: list_empty}
  - {from: busy, to: done, event: go}
actions:
  idle:
    - {type: log, message: "before {report_id}"}
    - {type: pop_from_list, list_key: queue, store_as: current_job}
  busy:
    - {type: log, message: "working on {report_id}"}
"""
    found = [(f.severity, f.path) for f in check(body, BUSY) if f.code == "P001"]
    # idle claims the job, so it counts as "after a claim" when it is entered again
    assert found == [
        ("warning", "$.actions.idle[0].message"),
        ("warning", "$.actions.busy[0].message"),
    ]


def test_before_any_job_claim_unknown_roots_stay_errors() -> None:
    body = """
known_context: [queue]
events: [item_popped, list_empty, go]
transitions:
  - {from: idle, to: busy, event: go}
  - {from: busy, to: done, event: item_popped}
  - {from: busy, to: done, event: list_empty}
actions:
  idle:
    - {type: log, message: "before {report_id}"}
  busy:
    - {type: pop_from_list, list_key: queue, store_as: current_job}
"""
    [finding] = [f for f in check(body, BUSY) if f.code == "P001"]
    assert finding.severity == "error"


def test_custom_actions_make_unknown_roots_warnings() -> None:
    body = """
events: [go]
transitions:
  - {from: idle, to: done, event: go}
actions:
  idle:
    - {type: greet, success: go}
    - {type: log, message: "{greeting}"}
"""
    [finding] = check(body, actions_dirs=[LINT / "actions_ok"])
    assert finding.code == "P001" and finding.severity == "warning"
    assert "greet" in finding.message
