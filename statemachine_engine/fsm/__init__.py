"""The pure core: which transition fires, what becomes of an event, which states are final."""

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
from statemachine_engine.fsm._fold import (
    RELEASE,
    Release,
    ScriptedAction,
    ScriptRun,
    run_events,
    run_script,
)
from statemachine_engine.fsm._table import Table, compile_spec, select_transition

__all__ = [
    "DROP",
    "HOLD",
    "IGNORE",
    "RELEASE",
    "Disposition",
    "HeldQueue",
    "Release",
    "ScriptRun",
    "ScriptedAction",
    "Table",
    "compile_spec",
    "dispose",
    "dispose_returned",
    "record_failure",
    "run_events",
    "run_script",
    "select_transition",
]
