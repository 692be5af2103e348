"""The pure core: which transition fires, which timers a state arms, which states are final."""

from statemachine_engine.fsm._table import Table, compile_spec, run_events, select_transition

__all__ = ["Table", "compile_spec", "run_events", "select_transition"]
