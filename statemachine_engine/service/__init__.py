"""Runtime processes: the wiring of store, sockets, children and signals for the commands.

Names are imported on first use: ``statemachine CONFIG`` needs the wiring, not the
project manifest's loader, and its start-up time is benchmarked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "DEFAULT_MANIFEST": "statemachine_engine.service._manifest",
    # compatibility: its home is the transport package now
    "JOB_DOORBELL": "statemachine_engine.transport",
    "SHUTDOWN_GRACE": "statemachine_engine.service._wiring",
    "ChildProcesses": "statemachine_engine.service._children",
    "HostsTransport": "statemachine_engine.service._remote_inbox",
    "RemoteInbox": "statemachine_engine.service._remote_inbox",
    "LaunchSettings": "statemachine_engine.service._children",
    "MachineEntry": "statemachine_engine.service._manifest",
    "Manifest": "statemachine_engine.service._manifest",
    "MonitorHook": "statemachine_engine.service._wiring",
    "MonitorSettings": "statemachine_engine.service._manifest",
    "ProcessOptions": "statemachine_engine.service._machine_process",
    "Wired": "statemachine_engine.service._wiring",
    "Wiring": "statemachine_engine.service._wiring",
    "check_project": "statemachine_engine.service._project",
    "load_manifest": "statemachine_engine.service._manifest",
    "make_router": "statemachine_engine.service._router",
    "monitor_configs": "statemachine_engine.service._project",
    "registry_transport": "statemachine_engine.service._router",
    "run_machine_process": "statemachine_engine.service._machine_process",
    "run_project": "statemachine_engine.service._project",
    "run_wired": "statemachine_engine.service._wiring",
}

__all__ = [
    "DEFAULT_MANIFEST",
    "JOB_DOORBELL",
    "SHUTDOWN_GRACE",
    "ChildProcesses",
    "HostsTransport",
    "LaunchSettings",
    "MachineEntry",
    "Manifest",
    "MonitorHook",
    "MonitorSettings",
    "ProcessOptions",
    "RemoteInbox",
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

if TYPE_CHECKING:
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
    from statemachine_engine.service._remote_inbox import HostsTransport, RemoteInbox
    from statemachine_engine.service._router import make_router, registry_transport
    from statemachine_engine.service._wiring import (
        SHUTDOWN_GRACE,
        MonitorHook,
        Wired,
        Wiring,
        run_wired,
    )
    from statemachine_engine.transport import JOB_DOORBELL

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
