"""One runtime process with a primary machine: what ``statemachine CONFIG`` runs.

It wires the library's parts together: the SQLite store, the control socket (events in),
the event socket publisher (events out to a monitor), the transport to other runtimes,
child processes for ``start_fsm process: true``, and signal handling. SIGINT and SIGTERM
stop the machines (running actions cancelled, children killed, socket removed, registry row
removed, ``machine_terminated`` published) and exit 130 / 143.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec
from statemachine_engine.errors import StateMachineError
from statemachine_engine.persistence import open_store
from statemachine_engine.service._children import ChildProcesses
from statemachine_engine.transport import JOB_DOORBELL, Message
from statemachine_engine.transport._control_server import ControlServer
from statemachine_engine.transport._event_publisher import SocketEventPublisher
from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET, control_socket_path
from statemachine_engine.transport._socket_transport import SocketTransport

log = logging.getLogger("statemachine_engine.service")

#: how long shutdown may take before the process gives up waiting (the issue allows 5 s)
SHUTDOWN_GRACE = 4.0


@attrs.frozen
class ProcessOptions:
    spec: MachineSpec
    name: str
    db: str
    context: Mapping[str, Any] = attrs.field(factory=dict)
    actions_dir: str | None = None
    event_socket_path: str | None = None
    control_socket_prefix: str | None = None
    log_dir: str = "logs"
    ready_fd: int | None = None  # written to once the machine can receive events
    parent_fd: int | None = None  # a pipe the parent holds open: end of file = it is gone
    monitor: Any = (
        None  # an async callable(runtime, publisher_bus, nursery) started with the runtime
    )


def run_machine_process(options: ProcessOptions) -> int:
    """Run until the machine stops or a signal arrives; returns the exit code.

    A failure to start (a port or socket in use, a store that cannot be opened) raises
    that one StateMachineError, not the nursery's exception group around it.
    """
    try:
        return trio.run(_serve, options)
    except BaseExceptionGroup as group:
        raise single_error(group) from None


def single_error(group: BaseExceptionGroup[Any]) -> StateMachineError:
    """The first StateMachineError of ``group`` when it holds nothing else (a failure of the
    project's own making, to report in one line); otherwise ``group`` is raised again."""
    matched, rest = group.split(StateMachineError)
    if matched is None or rest is not None:
        raise group
    leaf: BaseException = matched
    while isinstance(leaf, BaseExceptionGroup):
        leaf = leaf.exceptions[0]
    assert isinstance(leaf, StateMachineError)
    return leaf


async def _serve(options: ProcessOptions) -> int:
    outcome: dict[str, int] = {}
    # A signal cancels only the machines: the store, the event publisher and the control
    # server stay up while the machines clean up, so their last records (registry row
    # removed, machine_terminated) still reach the database and the monitor.
    machines_scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, machines_scope, nursery.cancel_scope, outcome)
        if options.parent_fd is not None:
            nursery.start_soon(_watch_parent, options.parent_fd, machines_scope, outcome)
        code = await _run(options, machines_scope)
        outcome.setdefault("code", code)
        nursery.cancel_scope.cancel()
    return outcome["code"]


async def _watch_signals(
    machines_scope: trio.CancelScope, everything: trio.CancelScope, outcome: dict[str, int]
) -> None:
    """The first SIGINT/SIGTERM stops the machines; a second one, or a clean-up that takes
    longer than SHUTDOWN_GRACE, stops everything at once."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            outcome["code"] = 128 + signum
            log.info("received %s; stopping", signal.Signals(signum).name)
            machines_scope.cancel()
            break
        with trio.move_on_after(SHUTDOWN_GRACE):
            async for signum in signals:
                log.warning("received %s again; stopping now", signal.Signals(signum).name)
                break
            everything.cancel()
            return
        log.warning("clean-up took longer than %g s; stopping now", SHUTDOWN_GRACE)
        everything.cancel()


async def _watch_parent(fd: int, machines_scope: trio.CancelScope, outcome: dict[str, int]) -> None:
    """Stop the machines, as SIGTERM would, when the parent runtime that started this one
    is gone -- even killed with SIGKILL: the kernel closes its end of the pipe."""
    async with trio.lowlevel.FdStream(fd) as pipe:
        while await pipe.receive_some(64):
            pass  # the parent never writes; anything but end of file is ignored
    if not machines_scope.cancel_called:
        log.warning("the parent runtime is gone; stopping")
        outcome.setdefault("code", 128 + signal.SIGTERM)
        machines_scope.cancel()


async def _run(options: ProcessOptions, machines_scope: trio.CancelScope) -> int:
    control_path = control_socket_path(options.name, options.control_socket_prefix)
    # with --monitor the machines' events reach the monitor in-process; the event socket
    # is for a monitor elsewhere, whose absence is no news
    publisher = SocketEventPublisher(
        options.event_socket_path or DEFAULT_EVENT_SOCKET, quiet=options.monitor is not None
    )
    code = 0
    async with open_store(options.db) as store, trio.open_nursery() as services:
        await services.start(publisher.run)

        transport = registry_transport(store, options.control_socket_prefix)
        children = ChildProcesses(options, services)
        try:
            with machines_scope:
                async with open_runtime(
                    store=store,
                    publisher=publisher,
                    transport=transport,
                    actions_dir=options.actions_dir,
                    endpoint=control_path,
                    process_launcher=children,
                ) as runtime:
                    try:
                        # the monitor first: when its ports are taken, no control socket
                        # has been created yet
                        if options.monitor is not None:
                            await options.monitor(runtime, publisher, services)
                        server = ControlServer(
                            control_path, make_router(runtime, options.name, store)
                        )
                        await services.start(server.run)
                        ref = await runtime.spawn(
                            options.spec, name=options.name, context=options.context
                        )
                        if options.ready_fd is not None:
                            # ready means registered: the parent reads the child's row (its
                            # pid, its endpoint) as soon as it is told
                            await store.flush()
                            _signal_ready(options.ready_fd)
                        status = await ref.wait_stopped()
                        code = 1 if status == "crashed" else 0
                    finally:
                        await children.stop()
        finally:
            with trio.move_on_after(SHUTDOWN_GRACE / 2) as flush_scope:
                flush_scope.shield = True
                await publisher.flush()
            await transport.aclose()
            services.cancel_scope.cancel()
    return code


def _signal_ready(fd: int) -> None:
    try:
        os.write(fd, b"ready\n")
    except OSError as exc:
        log.debug("parent's ready pipe is gone: %s", exc)
    finally:
        os.close(fd)


def registry_transport(store: Any, prefix: str | None) -> SocketTransport:
    """The transport to machines of other runtimes, found through the store's registry
    (their ``endpoint``), else by the path convention ``{prefix}-{name}.sock``."""

    async def lookup(target: str) -> str | None:
        row = await store.machine(target)
        return str(row["endpoint"]) if row and row.get("endpoint") else None

    return SocketTransport(lookup, prefix=prefix)


def make_router(runtime: Runtime, primary: str | None, store: Any) -> Any:
    """The control server's router: doorbells to the store, events to machines by target
    (a message without ``target`` goes to ``primary``)."""

    async def route(message: Message) -> None:
        if message.type == JOB_DOORBELL:
            payload = message.payload if isinstance(message.payload, dict) else {}
            machine_type = payload.get("machine_type")
            notify = getattr(store, "notify_job_added", None)
            if notify is not None:
                notify(machine_type)
            return
        target = message.target or primary
        if target is None:
            running = runtime.running_names()
            shown = ", ".join(running[:10]) + (
                f" and {len(running) - 10} more" if running[10:] else ""
            )
            raise ValueError(
                "this runtime runs a project of several machines: the message needs a "
                f"'target' ({shown or 'none is running now'})"
            )
        if message.target is None:
            message = attrs.evolve(message, target=target)
        await runtime.deliver_local(message)

    return route
