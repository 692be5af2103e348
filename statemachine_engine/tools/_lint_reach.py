"""Reachability checks (R family), over the machine's graph with wildcards expanded.

Edges follow the runtime's matching rule (a specific transition shadows a wildcard one on the
same event) and a final state has none: the machine stops there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping

from statemachine_engine.config import CONVENTIONAL_FINAL_STATES, WILDCARD, MachineSpec, Path
from statemachine_engine.fsm import compile_spec
from statemachine_engine.tools._document import Document
from statemachine_engine.tools._suggest import listing


def successors(spec: MachineSpec) -> dict[str, set[str]]:
    """state -> the states one event can take it to (final states lead nowhere)."""
    table = compile_spec(spec)
    events = {t.event for t in spec.transitions}
    graph: dict[str, set[str]] = {}
    for state in spec.all_states:
        if table.is_final(state):
            graph[state] = set()
            continue
        graph[state] = {t.to for e in events if (t := table.select(state, e)) is not None}
    return graph


def reachable(graph: Mapping[str, Iterable[str]], start: Iterable[str]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in graph.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def check_reachability(doc: Document) -> None:
    assert doc.spec is not None and doc.data is not None
    spec = doc.spec
    declared = bool(spec.states)  # as the loader: an empty list declares nothing
    if declared and spec.initial_state not in spec.states:
        return  # S001/S002 said so; every other verdict would follow from that one
    graph = successors(spec)
    live = reachable(graph, [spec.initial_state])
    # Undeclared names (S003, S004) are not judged a second time as states.
    states = spec.states if declared else spec.all_states
    final = spec.final_states
    state_path = _state_paths(doc)

    for state in states:
        if state not in live:
            doc.report(
                "R001",
                "warning",
                state_path(state),
                f"state {state!r} cannot be reached from the initial state {spec.initial_state!r}",
                "add a transition into it, or remove it",
            )
    for state in states:
        if state in live and state not in final and not graph[state]:
            doc.report(
                "R002",
                "error",
                state_path(state),
                f"state {state!r} is not final and has no outgoing transition: a machine that "
                "enters it stays there forever",
                "add a transition out of it, or list it under final_states:",
            )
    for t in spec.transitions:
        for state in t.from_:
            if state != WILDCARD and state in final:
                conventional = (
                    " (it is final because of its name; without a final_states: key, "
                    "stopped/shutdown/completed end the machine)"
                    if "final_states" not in doc.data and state in CONVENTIONAL_FINAL_STATES
                    else ""
                )
                doc.report(
                    "R003",
                    "warning",
                    ("transitions", t.index, "from"),
                    f"transition from final state {state!r} never fires: the machine stops "
                    f"when it enters {state!r}{conventional}",
                    "remove the transition, or declare final_states: without this state",
                )
    if not final:
        doc.report(
            "R005",
            "info",
            (),
            "the machine has no final state: it runs until it is stopped from outside",
            "if it should end, add final_states: (or a state named stopped, shutdown or completed)",
        )
        return
    if not final & live:
        doc.report(
            "R004",
            "error",
            ("final_states",) if "final_states" in doc.data else (),
            f"no final state ({listing(final)}) can be reached from the initial state "
            f"{spec.initial_state!r}",
            "add a path of transitions to a final state",
        )
        return
    reverse: dict[str, set[str]] = {s: set() for s in graph}
    for src, targets in graph.items():
        for dst in targets:
            reverse.setdefault(dst, set()).add(src)
    can_finish = reachable(reverse, final)
    for state in states:
        if state in live and state not in can_finish and graph[state]:
            doc.report(
                "R006",
                "warning",
                state_path(state),
                f"from state {state!r} no final state can be reached: the machine can loop "
                "there forever",
                "add a way out to a final state (a wildcard 'stop' transition is common)",
            )


def _state_paths(doc: Document) -> Callable[[str], Path]:
    """state -> the YAML path of its declaration (or first mention)."""
    assert doc.data is not None
    data = doc.data
    raw = data.get("states")
    index = (
        {s: i for i, s in reversed(list(enumerate(raw))) if isinstance(s, str)}
        if isinstance(raw, list)
        else {}
    )

    def path(state: str) -> Path:
        if state in index:
            return ("states", index[state])
        if doc.spec is not None:
            for t in doc.spec.transitions:
                if t.to == state:
                    return ("transitions", t.index, "to")
                if state in t.from_:
                    return ("transitions", t.index, "from")
        return ("initial_state",) if "initial_state" in data else ()

    return path
