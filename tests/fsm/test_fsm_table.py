"""The pure core: Table.select, timers, final states and the fold of the step function."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from statemachine_engine.config import MachineSpec, Transition, load_config_text
from statemachine_engine.fsm import compile_spec, run_events, select_transition

SPEC = load_config_text(
    """\
initial_state: a
states: [a, b, c, done]
transitions:
  - {from: "*", to: c, event: go}
  - {from: a, to: b, event: go}
  - {from: a, to: c, event: go}
  - {from: [b, c], to: a, event: back}
  - {from: "*", to: done, event: back}
  - {from: "*", to: a, event: reset}
  - {from: "*", to: b, event: reset}
"""
)
TABLE = compile_spec(SPEC)


def test_specific_from_wins_over_an_earlier_wildcard() -> None:
    found = TABLE.select("a", "go")
    assert found is SPEC.transitions[1]


def test_within_specific_transitions_file_order_wins() -> None:
    assert TABLE.step("a", "go") == "b"


def test_wildcard_applies_where_no_specific_transition_does() -> None:
    assert TABLE.select("b", "go") is SPEC.transitions[0]
    assert TABLE.select("done", "back") is SPEC.transitions[4]


def test_within_wildcards_file_order_wins() -> None:
    assert TABLE.select("c", "reset") is SPEC.transitions[5]


def test_list_from_matches_each_listed_state() -> None:
    assert TABLE.select("b", "back") is SPEC.transitions[3]
    assert TABLE.select("c", "back") is SPEC.transitions[3]
    assert TABLE.select("a", "back") is SPEC.transitions[4]


def test_nothing_fires() -> None:
    assert TABLE.select("a", "unknown") is None
    assert TABLE.step("a", "unknown") is None


TIMED = load_config_text(
    """\
transitions:
  - {from: waiting, to: slow, event: timeout(30)}
  - {from: waiting, to: fast, event: timeout(2.5)}
  - {from: waiting, to: never, event: timeout(2.5)}
  - {from: "*", to: waiting, event: timeout(10)}
  - {from: "*", to: waiting, event: timeout(1)}
  - {from: waiting, to: mid, event: timeout(1)}
  - {from: slow, to: waiting, event: go}
  - {from: done, to: waiting, event: timeout(1)}
"""
)
TIMED_TABLE = compile_spec(TIMED)


def test_timers_sorted_and_deduplicated() -> None:
    assert TIMED_TABLE.timers("waiting") == (
        (1.0, "timeout(1)"),
        (2.5, "timeout(2.5)"),
        (10.0, "timeout(10)"),
        (30.0, "timeout(30)"),
    )
    assert TIMED_TABLE.first_timer("waiting") == (1.0, "timeout(1)")


def test_a_specific_timeout_shadows_the_wildcard_one_for_the_same_event() -> None:
    assert TIMED_TABLE.select("waiting", "timeout(1)") is TIMED.transitions[5]
    assert TIMED_TABLE.select("done", "timeout(1)") is TIMED.transitions[7]
    assert TIMED_TABLE.select("slow", "timeout(1)") is TIMED.transitions[4]


def test_wildcard_timeouts_apply_to_every_state() -> None:
    assert TIMED_TABLE.timers("slow") == ((1.0, "timeout(1)"), (10.0, "timeout(10)"))
    assert TIMED_TABLE.timers("anything") == ((1.0, "timeout(1)"), (10.0, "timeout(10)"))


def test_no_timers() -> None:
    table = compile_spec(SPEC)
    assert table.timers("a") == ()
    assert table.first_timer("a") is None


def test_final_states() -> None:
    spec = load_config_text("states: [waiting, completed, done]\n")
    table = compile_spec(spec)
    assert table.is_final("completed")
    assert not table.is_final("done") and not table.is_final("waiting")
    explicit = compile_spec(load_config_text("states: [waiting, done]\nfinal_states: [done]\n"))
    assert explicit.is_final("done")


def test_run_events_folds_the_step_function_and_stops_at_a_final_state() -> None:
    spec = load_config_text(
        """\
final_states: [done]
transitions:
  - {from: waiting, to: busy, event: go}
  - {from: busy, to: waiting, event: back}
  - {from: "*", to: done, event: stop}
"""
    )
    trace = run_events(compile_spec(spec), "waiting", ["x", "go", "go", "back", "stop", "go"])
    assert trace == [
        ("waiting", "go", "busy"),
        ("busy", "back", "waiting"),
        ("waiting", "stop", "done"),
    ]


# -- property: the compiled table equals the linear reference rule -------------------------

STATES = ["s0", "s1", "s2", "s3", "*"]
EVENTS = ["e0", "e1", "e2", "timeout(1)", "timeout(2.5)"]


@st.composite
def specs(draw: st.DrawFn) -> MachineSpec:
    count = draw(st.integers(0, 14))
    transitions = []
    for index in range(count):
        sources = draw(st.lists(st.sampled_from(STATES), min_size=1, max_size=3, unique=True))
        transitions.append(
            Transition(
                from_=tuple(sources),
                to=draw(st.sampled_from(STATES[:-1])),
                event=draw(st.sampled_from(EVENTS)),
                index=index,
            )
        )
    return MachineSpec(initial_state="s0", transitions=tuple(transitions))


@settings(max_examples=300)
@given(specs(), st.sampled_from([*STATES[:-1], "elsewhere"]), st.sampled_from([*EVENTS, "zz"]))
def test_select_equals_the_linear_reference(spec: MachineSpec, state: str, event: str) -> None:
    assert compile_spec(spec).select(state, event) is select_transition(spec, state, event)


@settings(max_examples=200)
@given(specs(), st.sampled_from(STATES[:-1]))
def test_timers_are_exactly_the_timeouts_that_can_fire(spec: MachineSpec, state: str) -> None:
    table = compile_spec(spec)
    expected = sorted(
        {
            (float(event[len("timeout(") : -1]), event)
            for event in EVENTS
            if event.startswith("timeout(") and select_transition(spec, state, event) is not None
        }
    )
    assert list(table.timers(state)) == expected
