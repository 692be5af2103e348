"""Runtime processes: the wiring of store, sockets, children and signals for the commands."""

from statemachine_engine.service._machine_process import ProcessOptions, run_machine_process

__all__ = ["ProcessOptions", "run_machine_process"]
