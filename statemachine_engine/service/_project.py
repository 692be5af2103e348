"""``statemachine run``: every machine of a manifest, and the monitor, in one supervised
process (machines marked ``process: true`` get their own process), stopped cleanly on
Ctrl-C. It replaces the published package's start-up shell scripts."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.actions import get_registry
from statemachine_engine.actors import Runtime, open_runtime, resolve_config_path
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.errors import ConfigError, DuplicateJob
from statemachine_engine.persistence import open_store
from statemachine_engine.persistence._paths import resolve_db_path
from statemachine_engine.service._children import kill_process
from statemachine_engine.service._machine_process import (
    SHUTDOWN_GRACE,
    make_router,
    registry_transport,
    single_error,
)
from statemachine_engine.service._manifest import Manifest
from statemachine_engine.transport._control_server import ControlServer
from statemachine_engine.transport._event_publisher import SocketEventPublisher
from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET, control_socket_path

log = logging.getLogger("statemachine_engine.project")


def check_project(manifest: Manifest) -> list[list[str]]:
    """Validate every config of the project together; returns the errors, each as its report
    lines (``file:line:col: CODE error: message``, then its YAML path and fix)."""
    from statemachine_engine.tools import lint_paths
    from statemachine_engine.tools._report import finding_lines

    configs = sorted({m.config for m in manifest.machines})
    dirs = {d for d in [manifest.actions_dir, *(m.actions_dir for m in manifest.machines)] if d}
    result = lint_paths(configs, actions_dirs=sorted(dirs))
    return [finding_lines(f) for f in result.findings if f.severity == "error"]


def run_project(manifest: Manifest, *, say: Callable[[str], None] = print) -> int:
    """Run the project until every machine stops or a signal arrives; the exit code.

    A failure to start (a port or socket in use, a store that cannot be opened) raises
    that one StateMachineError, not the nursery's exception group around it.
    """
    try:
        return trio.run(_serve, manifest, say)
    except BaseExceptionGroup as group:
        raise single_error(group) from None


async def _serve(manifest: Manifest, say: Callable[[str], None]) -> int:
    outcome: dict[str, int] = {}
    # As in a machine process: a signal cancels the machines and child processes first,
    # while the store, the publisher or monitor and the control socket stay up, so that
    # their last records (registry rows removed, machine_terminated) still get out.
    machines_scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:

        async def watch_signals() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    outcome["code"] = 128 + signum
                    say(f"received {signal.Signals(signum).name}; stopping")
                    machines_scope.cancel()
                    break
                with trio.move_on_after(SHUTDOWN_GRACE):
                    async for signum in signals:
                        say(f"received {signal.Signals(signum).name} again; stopping now")
                        break
                    nursery.cancel_scope.cancel()
                    return
                say(f"clean-up took longer than {SHUTDOWN_GRACE:g} s; stopping now")
                nursery.cancel_scope.cancel()

        nursery.start_soon(watch_signals)
        code = await _run(manifest, say, machines_scope)
        outcome.setdefault("code", code)
        nursery.cancel_scope.cancel()
    return outcome["code"]


async def _run(
    manifest: Manifest, say: Callable[[str], None], machines_scope: trio.CancelScope
) -> int:
    specs: dict[str, tuple[MachineSpec, str | None]] = {}
    for entry in manifest.machines:
        actions_dir = entry.actions_dir or manifest.actions_dir
        specs[entry.config] = (load_config(entry.config, actions_dir=actions_dir), actions_dir)
    # every custom action file now, as the runtime would, before anything is started
    for actions_dir in dict.fromkeys([manifest.actions_dir, *(s[1] for s in specs.values())]):
        get_registry(actions_dir).load_all()
    db = manifest.db or resolve_db_path(None)
    event_socket = manifest.event_socket_path or DEFAULT_EVENT_SOCKET
    control_path = control_socket_path(manifest.name, manifest.control_socket_prefix)
    processes: list[trio.Process] = []
    code = 0
    async with open_store(db) as store, trio.open_nursery() as services:
        await _queue_jobs(store, manifest, say)
        publisher: Any = None
        if manifest.monitor is None:
            publisher = SocketEventPublisher(event_socket)
            await services.start(publisher.run)

        transport = registry_transport(store, manifest.control_socket_prefix)
        try:
            with machines_scope:
                async with open_runtime(
                    store=store,
                    publisher=publisher,
                    transport=transport,
                    actions_dir=manifest.actions_dir,
                    endpoint=control_path,
                ) as runtime:
                    try:
                        if manifest.monitor is not None:
                            configs = monitor_configs(
                                [m.config for m in manifest.machines],
                                [s for s, _ in specs.values()],
                            )
                            await _start_monitor(
                                manifest, runtime, event_socket, configs, services, say
                            )
                        server = ControlServer(control_path, make_router(runtime, None, store))
                        await services.start(server.run)
                        refs = []
                        for entry in manifest.machines:
                            spec, actions_dir = specs[entry.config]
                            for name in entry.names(spec.default_name):
                                if entry.process:
                                    processes.append(
                                        await _start_process(
                                            manifest, entry, name, db, event_socket
                                        )
                                    )
                                    continue
                                refs.append(
                                    await runtime.spawn(
                                        spec,
                                        name=name,
                                        context=entry.context,
                                        actions_dir=actions_dir,
                                    )
                                )
                        say(
                            f"{len(refs)} machines running in this process"
                            + (f", {len(processes)} in their own processes" if processes else "")
                            + "; press Ctrl-C to stop"
                        )
                        for ref in refs:
                            if await ref.wait_stopped() == "crashed":
                                code = 1
                        for process in processes:
                            await process.wait()
                    finally:
                        # while the monitor still listens for their last events
                        with trio.CancelScope(shield=True):
                            for process in processes:
                                await kill_process(process)
        finally:
            with trio.CancelScope(shield=True):
                if publisher is not None:
                    with trio.move_on_after(SHUTDOWN_GRACE / 2):
                        await publisher.flush()
                await transport.aclose()
            services.cancel_scope.cancel()
    return code


async def _queue_jobs(store: Any, manifest: Manifest, say: Callable[[str], None]) -> None:
    added = 0
    for job in manifest.jobs:
        try:
            await store.add_job(
                str(job["job_id"]),
                str(job["job_type"]),
                machine_type=job.get("machine_type"),
                data=job.get("data") or {},
                priority=int(job.get("priority", 5)),
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


async def _start_monitor(
    manifest: Manifest,
    runtime: Runtime,
    event_socket: str,
    configs: list[str],
    services: trio.Nursery,
    say: Callable[[str], None],
) -> None:
    from statemachine_engine.monitor import MonitorHub, serve_monitor

    settings = manifest.monitor
    assert settings is not None
    hub = MonitorHub(store=runtime.store)
    runtime.publisher = hub
    server = await services.start(
        partial(
            serve_monitor,
            hub,
            host=settings.host,
            ui_port=settings.ui_port,
            websocket_port=settings.websocket_port,
            event_socket_path=event_socket,
            configs=configs,
            flags={
                "ui": "--ui-port",
                "websocket": "--websocket-port",
                "event_socket": "--event-socket-path",
            },
        )
    )
    ws = server.websocket
    say(f"monitor: {server.ui_url}" + (f" (WebSocket port {ws.port})" if ws else ""))


async def _start_process(
    manifest: Manifest, entry: Any, name: str, db: str, event_socket: str
) -> trio.Process:
    argv = [sys.executable, "-m", "statemachine_engine", entry.config, "--machine-name", name]
    argv += ["--db", db, "--event-socket-path", event_socket]
    if manifest.control_socket_prefix:
        argv += ["--control-socket-prefix", manifest.control_socket_prefix]
    actions_dir = entry.actions_dir or manifest.actions_dir
    if actions_dir:
        argv += ["--actions-dir", actions_dir]
    if entry.context:
        argv += ["--initial-context", json.dumps(dict(entry.context), default=str)]
    logs = trio.Path(manifest.root) / "logs"
    await logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{name}.log"
    out = await trio.to_thread.run_sync(open, str(log_file), "ab")
    with out:
        process = await trio.lowlevel.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            cwd=manifest.root,
            env={**os.environ},
        )
    log.info("started %s as process %d (log: %s)", name, process.pid, log_file)
    return process
