"""State group checks (G family): the Kanban columns and diagram composites must be sound."""

from __future__ import annotations

from collections.abc import Mapping

from statemachine_engine.tools._document import Document
from statemachine_engine.tools._suggest import did_you_mean, listing


def check_groups(doc: Document) -> None:
    assert doc.data is not None and doc.spec is not None
    spec = doc.spec
    groups = spec.state_groups
    if not groups:
        return
    if doc.comment_groups:
        doc.report(
            "G005",
            "info",
            ("states",),
            f"state groups come from '# === NAME ===' comments ({listing(groups)}); a YAML "
            "formatter that drops comments loses them",
            "move them to a state_groups: mapping of group name -> list of states",
        )
    declared = set(spec.states) if spec.states else None
    raw = doc.data.get("state_groups")
    owner: dict[str, str] = {}
    for group, members in groups.items():
        path = ("state_groups", group) if isinstance(raw, Mapping) else ("states",)
        if not members:
            doc.report(
                "G004",
                "warning",
                path,
                f"state group {group!r} has no states",
                "list its states, or remove the group",
                key=True,
            )
        for state in members:
            if declared is not None and state not in declared:
                doc.report(
                    "G001",
                    "error",
                    path,
                    f"state {state!r} in group {group!r} is not declared in states"
                    f"{did_you_mean(state, declared)}",
                    "declare the state under states: or correct the name",
                )
                continue
            if state in owner:
                where = (
                    f"listed twice in group {group!r}"
                    if owner[state] == group
                    else f"in groups {owner[state]!r} and {group!r}"
                )
                doc.report(
                    "G002",
                    "error",
                    path,
                    f"state {state!r} is {where}; a state belongs to one Kanban column",
                    "keep it in one group",
                )
                continue
            owner[state] = group
    states = spec.states if declared is not None else spec.all_states
    ungrouped = [s for s in states if s not in owner]
    if ungrouped:
        doc.report(
            "G003",
            "warning",
            ("state_groups",) if isinstance(raw, Mapping) else ("states",),
            f"states in no group: {listing(ungrouped)}; the Kanban board has no column for them",
            "add them to a group",
        )
