"""The disposition rules, the held queue and the fold over scripts -- no event loop."""

from __future__ import annotations

from statemachine_engine.config import load_config_text
from statemachine_engine.fsm import (
    DROP,
    HOLD,
    IGNORE,
    RELEASE,
    HeldQueue,
    Release,
    ScriptedAction,
    ScriptRun,
    compile_spec,
    dispose,
    dispose_returned,
    record_failure,
    run_script,
)

SPEC = load_config_text(
    """\
initial_state: a
states: [a, b, done]
final_states: [done]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: back}
  - {from: "*", to: done, event: finish}
"""
)
TABLE = compile_spec(SPEC)


def test_an_event_that_fires_fires_busy_or_idle() -> None:
    assert dispose(TABLE, "a", "go", busy=True) is SPEC.transitions[0]
    assert dispose(TABLE, "a", "go", busy=False) is SPEC.transitions[0]


def test_an_unmatched_event_is_held_while_busy_and_dropped_when_idle() -> None:
    assert dispose(TABLE, "a", "back", busy=True) is HOLD
    assert dispose(TABLE, "a", "back", busy=False) is DROP


def test_an_action_event_that_fires_nothing_is_ignored() -> None:
    assert dispose_returned(TABLE, "a", "go") is SPEC.transitions[0]
    assert dispose_returned(TABLE, "a", "back") is IGNORE


def test_in_a_final_state_every_returned_event_is_ignored() -> None:
    assert dispose_returned(TABLE, "done", "finish") is IGNORE


def test_the_held_queue_drops_its_oldest_beyond_its_bound() -> None:
    held: HeldQueue[str] = HeldQueue(2)
    assert held.hold("x") is None
    assert held.hold("y") is None
    assert held.hold("z") == "x"
    assert held.hold_first("w") == "y"
    assert len(held) == 2
    assert [held.take(), held.take()] == ["w", "z"]
    assert not held


def test_record_failure_sets_the_context_and_reports() -> None:
    context: dict[str, object] = {}
    reported: list[tuple[str, str]] = []
    record_failure(context, "bash", "exit 3", lambda a, m: reported.append((a, m)))
    assert context == {"last_error": "exit 3", "last_error_action": "bash"}
    assert reported == [("bash", "exit 3")]
    record_failure(context, "log", "no host", None)
    assert context["last_error_action"] == "log"


def script(
    actions: dict[str, list[ScriptedAction]], inputs: list[str | Release], capacity: int = 8
) -> ScriptRun:
    return run_script(TABLE, "a", actions, inputs, capacity=capacity)


def test_a_blocked_action_holds_unmatched_events_until_the_machine_is_idle() -> None:
    run = script({"a": [ScriptedAction(blocks=True)]}, ["back", "go", RELEASE])
    # "go" fires while the action runs (it is cancelled); "back" was held and fires in b
    assert run.trace == (("a", "go", "b"), ("b", "back", "a"))


def test_an_action_event_comes_before_the_mailbox() -> None:
    actions = {"a": [ScriptedAction(blocks=True), ScriptedAction(event="go")]}
    run = script(actions, ["finish_not", RELEASE])
    assert run.trace == (("a", "go", "b"),)
    assert run.dropped == 1  # the held event fired nothing in idle b


def test_an_ignored_action_event_lets_the_list_go_on() -> None:
    actions = {"a": [ScriptedAction(event="back"), ScriptedAction(event="go")]}
    run = script(actions, [])
    assert run.trace == (("a", "go", "b"),)
    assert run.ignored == 1


def test_a_full_mailbox_refuses_and_the_held_queue_drops_its_oldest() -> None:
    actions = {
        "a": [ScriptedAction(blocks=True, event="go")],
        "b": [ScriptedAction(blocks=True, event="back")],
    }
    run = script(actions, ["x1", "x2", "x3", RELEASE, "x4", "x5", RELEASE], capacity=2)
    assert run.refused == 1  # x3: the mailbox held x1 and x2
    assert run.trace == (("a", "go", "b"), ("b", "back", "a"))
    # x1 and x2 were held, then x4 and x5 pushed them out; then a blocks again
    assert run.dropped == 2


def test_a_machine_that_never_waits_is_cut_short() -> None:
    actions = {"a": [ScriptedAction(event="go")], "b": [ScriptedAction(event="back")]}
    run = script(actions, [])
    assert run.busy_loop
