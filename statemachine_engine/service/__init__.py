"""Runtime processes: the wiring of store, sockets, children and signals for the commands."""

from statemachine_engine.service._children import ChildProcesses, LaunchSettings
from statemachine_engine.service._machine_process import ProcessOptions, run_machine_process
from statemachine_engine.service._manifest import (
    DEFAULT_MANIFEST,
    MachineEntry,
    Manifest,
    MonitorSettings,
    load_manifest,
)
from statemachine_engine.service._project import check_project, monitor_configs, run_project
from statemachine_engine.service._router import make_router, registry_transport
from statemachine_engine.service._wiring import (
    SHUTDOWN_GRACE,
    MonitorHook,
    Wired,
    Wiring,
    run_wired,
)

__all__ = [
    "DEFAULT_MANIFEST",
    "SHUTDOWN_GRACE",
    "ChildProcesses",
    "LaunchSettings",
    "MachineEntry",
    "Manifest",
    "MonitorHook",
    "MonitorSettings",
    "ProcessOptions",
    "Wired",
    "Wiring",
    "check_project",
    "load_manifest",
    "make_router",
    "monitor_configs",
    "registry_transport",
    "run_machine_process",
    "run_project",
    "run_wired",
]
