"""Simulation and test helpers for the project and for users testing their own machines."""

from statemachine_engine.testing._simulate import (
    MachineSetup,
    ScheduledEvent,
    SimulationResult,
    TraceEntry,
    load_events,
    parse_events,
    run_simulation,
    simulate,
)

__all__ = [
    "MachineSetup",
    "ScheduledEvent",
    "SimulationResult",
    "TraceEntry",
    "load_events",
    "parse_events",
    "run_simulation",
    "simulate",
]
