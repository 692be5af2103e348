"""``statemachine run``: every machine of a manifest, and the monitor, in one supervised
process (machines marked ``process: true`` get their own process, through the same launcher
as ``start_fsm``'s children), stopped cleanly on Ctrl-C. It replaces the published
package's start-up shell scripts.

It is wired as every runtime process is (service/_wiring.py); what is its own is the
manifest: its machines, the jobs it queues at start, and the monitor's settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

import trio

from statemachine_engine.actions import get_registry
from statemachine_engine.actors import ActorRef, ChildRequest, resolve_config_path
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.errors import ConfigError, DuplicateJob
from statemachine_engine.persistence import Store, jobs_sql, resolve_db_path
from statemachine_engine.service._manifest import Manifest
from statemachine_engine.service._wiring import (
    MonitorHook,
    Wired,
    Wiring,
    drain_outbox,
    refuse_taken_names,
    run_wired,
)
from statemachine_engine.transport import DEFAULT_EVENT_SOCKET


def check_project(manifest: Manifest) -> list[list[str]]:
    """Validate every config of the project together; returns the errors, each as its report
    lines (``file:line:col: CODE error: message``, then its YAML path and fix). The
    warnings are logged, as ``statemachine CONFIG`` logs them at start."""
    from statemachine_engine.tools import finding_line, finding_lines, lint_paths

    configs = sorted({m.config for m in manifest.machines})
    dirs = {d for d in [manifest.actions_dir, *(m.actions_dir for m in manifest.machines)] if d}
    result = lint_paths(configs, actions_dirs=sorted(dirs))
    for warning in result.findings:
        if warning.severity == "warning":
            logging.getLogger("statemachine_engine.config").warning("%s", finding_line(warning))
    return [finding_lines(f) for f in result.findings if f.severity == "error"]


def run_project(manifest: Manifest, *, say: Callable[[str], None] = print) -> int:
    """Run the project until every machine stops or a signal arrives; the exit code.

    A failure to start (a port or socket in use, a store that cannot be opened, a
    ``process: true`` machine that exits before it is ready) raises that one
    StateMachineError, not the nursery's exception group around it.
    """
    specs: dict[str, tuple[MachineSpec, str | None]] = {}
    for entry in manifest.machines:
        actions_dir = entry.actions_dir or manifest.actions_dir
        specs[entry.config] = (load_config(entry.config, actions_dir=actions_dir), actions_dir)
    # every custom action file now, as the runtime would, before anything is started
    # (a broken file is a warning, an error when a machine of the project uses its type)
    for actions_dir in dict.fromkeys([manifest.actions_dir, *(s[1] for s in specs.values())]):
        get_registry(actions_dir).load_all(*(s for s, d in specs.values() if d == actions_dir))
    event_socket = manifest.event_socket_path or DEFAULT_EVENT_SOCKET
    wiring = Wiring(
        db=manifest.db or resolve_db_path(None),
        name=manifest.name,
        primary=None,
        actions_dir=manifest.actions_dir,
        event_socket_path=event_socket,
        control_socket_prefix=manifest.control_socket_prefix,
        # the monitor hosted here listens on the event socket itself
        publish_to_event_socket=manifest.monitor is None,
        monitor=_monitor(manifest, event_socket, [s for s, _ in specs.values()], say),
        log_dir=str(Path(manifest.root) / "logs"),
        cwd=manifest.root,
        sync=manifest.sync,
    )

    async def main(wired: Wired) -> int:
        await refuse_taken_names(
            wired,
            [
                name
                for entry in manifest.machines
                for name in entry.names(specs[entry.config][0].default_name)
            ],
        )
        refs: list[ActorRef] = []
        processes: list[str] = []
        # the processes start together (each takes a few hundred ms to be ready), while the
        # machines of this process are spawned; all are ready before the project says so
        async with trio.open_nursery() as starting:
            for entry in manifest.machines:
                spec, actions_dir = specs[entry.config]
                for name in entry.names(spec.default_name):
                    if entry.process:
                        request = ChildRequest(
                            entry.config,
                            name,
                            entry.context,
                            durable=entry.durable,
                            fresh=manifest.fresh,
                        )
                        launch = partial(wired.launcher.launch, actions_dir=actions_dir)
                        starting.start_soon(launch, request)
                        processes.append(name)
                        continue
                    refs.append(
                        await wired.runtime.spawn(
                            spec,
                            name=name,
                            context=entry.context,
                            actions_dir=actions_dir,
                            fresh=manifest.fresh,
                            durable=True if entry.durable else None,
                        )
                    )
        say(
            f"{_count(len(refs), 'machine')} running in this process"
            + (f", {len(processes)} in their own processes" if processes else "")
            + "; press Ctrl-C to stop"
        )
        code = 0
        for ref in refs:
            if await ref.wait_stopped() == "crashed":
                code = 1
        for name in processes:
            await wired.launcher.wait(name)
        await drain_outbox(wired.runtime)
        return code

    async def queue_jobs(store: Store) -> None:
        await _queue_jobs(store, manifest, say)

    return run_wired(wiring, main, report=lambda level, text: say(text), prepare=queue_jobs)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _monitor(
    manifest: Manifest, event_socket: str, specs: list[MachineSpec], say: Callable[[str], None]
) -> MonitorHook | None:
    """The monitor of the manifest's settings (None without one): it also listens on the
    event socket, for the machines in processes of their own."""
    settings = manifest.monitor
    if settings is None:
        return None
    from statemachine_engine.monitor import MonitorServer, embedded_monitor

    def announce(server: MonitorServer) -> None:
        ws = server.websocket
        say(f"monitor: {server.ui_link}" + (f" (WebSocket port {ws.port})" if ws else ""))

    return embedded_monitor(
        host=settings.host,
        ui_port=settings.ui_port,
        websocket_port=settings.websocket_port,
        event_socket_path=event_socket,
        configs=monitor_configs([m.config for m in manifest.machines], specs),
        flags={
            "ui": "--ui-port",
            "websocket": "--websocket-port",
            "event_socket": "--event-socket-path",
        },
        announce=announce,
        token=settings.token,
        # its history, jobs and actions: the project's database (the runtime's store)
        db=manifest.db or resolve_db_path(None),
    )


async def _queue_jobs(store: Store, manifest: Manifest, say: Callable[[str], None]) -> None:
    added = 0
    for job in manifest.jobs:
        try:
            await store.add_job(
                str(job["job_id"]),
                str(job["job_type"]),
                machine_type=job.get("machine_type"),
                data=job.get("data") or {},
                priority=job.get("priority", jobs_sql.DEFAULT_PRIORITY),
            )
            added += 1
        except DuplicateJob:
            continue
    if manifest.jobs:
        say(f"queued {added} of {len(manifest.jobs)} jobs from the manifest")


def monitor_configs(configs: list[str], specs: list[MachineSpec]) -> list[str]:
    """The configs the monitor draws: the manifest's, and those their ``start_fsm`` actions
    name (found as the runtime finds them, and followed further), so that spawned workers
    get their diagram and Kanban board too."""
    found = dict.fromkeys(configs)
    todo = list(specs)
    while todo:
        spec = todo.pop()
        for actions in spec.actions.values():
            for action in actions:
                yaml_path = action.get("yaml_path") if action.type == "start_fsm" else None
                if not isinstance(yaml_path, str) or "{" in yaml_path:
                    continue
                child = Path(resolve_config_path(yaml_path, spec.source)).resolve()
                if str(child) in found or not child.is_file():
                    continue
                found[str(child)] = None
                try:
                    todo.append(load_config(child))
                except ConfigError:
                    continue  # drawn as far as it can be; the linter reported it already
    return list(found)
