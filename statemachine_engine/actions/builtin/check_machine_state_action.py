"""``check_machine_state``: look another machine up in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine._liveness import pid_alive
from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import no_store, store_of, string_list
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError


class CheckMachineStateAction(BaseAction):
    """Is ``target_machine`` running, and in one of ``expected_states``?

    Reads the registry (the ``machine_state`` table every runtime keeps up to date). A row
    whose process is gone (its ``pid`` no longer exists on this host) counts as not running.

    Keys:
        target_machine: the machine's name (required).
        expected_states: one state or a list; default any state.
        timeout_seconds: accepted for compatibility and not used (the published package
            never used it either: the registry answers at once).
        in_expected_state: default ``in_expected_state``.
        unexpected_state: default ``unexpected_state``; the state is put in the context
            as ``unexpected_machine_state``.
        not_running: default ``not_running``.
        error: event when the store failed; default ``error``.

    ``target_machine_state`` is set to the state found (None when not running).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "in_expected_state": "in_expected_state",
        "unexpected_state": "unexpected_state",
        "not_running": "not_running",
        "error": "error",
    }
    REQUIRED: ClassVar[tuple[str, ...]] = ("target_machine",)
    KEYS: ClassVar[tuple[str, ...]] = ("target_machine", "expected_states", "timeout_seconds")

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        target = self.get_config_value("target_machine")
        if target in (None, ""):
            return fail(self, context, "check_machine_state needs a target_machine")
        expected = string_list(self.get_config_value("expected_states"))
        try:
            row = await store.machine(str(target))
        except StoreError as exc:
            return fail(self, context, f"could not read the registry: {exc}")
        if row is None or not pid_alive(row.get("pid")):
            context["target_machine_state"] = None
            return self.event("not_running", "not_running")
        state = row.get("current_state")
        context["target_machine_state"] = state
        if not expected or state in expected:
            return self.event("in_expected_state", "in_expected_state")
        context["unexpected_machine_state"] = state
        return self.event("unexpected_state", "unexpected_state")
