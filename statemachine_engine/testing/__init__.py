"""Simulation and test helpers for the project and for users testing their own machines."""

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
    "MachineSetup",
    "ScheduledCrash",
    "ScheduledEvent",
    "SimulationResult",
    "TraceEntry",
    "load_events",
    "parse_events",
    "run_simulation",
    "simulate",
]
