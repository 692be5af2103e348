"""The pure core: which transition fires, what becomes of an event, which states are final.

The folds (``run_events``, ``run_script``) are what tests compare machine actors with; they
are imported on first use, so a runtime does not pay for them at start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports
from statemachine_engine.fsm._disposition import (
    DROP,
    HOLD,
    IGNORE,
    Disposition,
    HeldQueue,
    dispose,
    dispose_returned,
)
from statemachine_engine.fsm._failure import record_failure
from statemachine_engine.fsm._table import (
    REPEAT_INTERVAL,
    Repeat,
    Table,
    compile_spec,
    repeatable,
    select_transition,
)

_FOLDS: dict[str, str] = {
    "RELEASE": "statemachine_engine.fsm._fold",
    "Release": "statemachine_engine.fsm._fold",
    "ScriptRun": "statemachine_engine.fsm._fold",
    "ScriptedAction": "statemachine_engine.fsm._fold",
    "run_events": "statemachine_engine.fsm._fold",
    "run_script": "statemachine_engine.fsm._fold",
}

__all__ = [
    "DROP",
    "HOLD",
    "IGNORE",
    "RELEASE",
    "REPEAT_INTERVAL",
    "Disposition",
    "HeldQueue",
    "Release",
    "Repeat",
    "ScriptRun",
    "ScriptedAction",
    "Table",
    "compile_spec",
    "dispose",
    "dispose_returned",
    "record_failure",
    "repeatable",
    "run_events",
    "run_script",
    "select_transition",
]

if TYPE_CHECKING:
    from statemachine_engine.fsm._fold import (
        RELEASE,
        Release,
        ScriptedAction,
        ScriptRun,
        run_events,
        run_script,
    )

__getattr__, __dir__ = lazy_exports(__name__, _FOLDS)
