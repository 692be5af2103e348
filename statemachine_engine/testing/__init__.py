"""Simulation and test helpers for the project and for users testing their own machines."""

from statemachine_engine.testing._check_store import check_store
from statemachine_engine.testing._checked_store import CheckedStore, StoreFactory, StoreOpener
from statemachine_engine.testing._schedule import (
    ScheduledCrash,
    ScheduledEvent,
    load_events,
    parse_events,
)
from statemachine_engine.testing._simulate import (
    MachineSetup,
    SimulationResult,
    TraceEntry,
    run_simulation,
    simulate,
)

__all__ = [
    "CheckedStore",
    "MachineSetup",
    "ScheduledCrash",
    "ScheduledEvent",
    "SimulationResult",
    "StoreFactory",
    "StoreOpener",
    "TraceEntry",
    "check_store",
    "load_events",
    "parse_events",
    "run_simulation",
    "simulate",
]
