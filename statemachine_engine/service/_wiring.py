"""The wiring of one runtime process, shared by ``statemachine CONFIG`` and ``statemachine run``.

Parts are built in one order: the store, the event-socket publisher, the monitor (when
asked for: it decides the publisher the runtime is built with), the transport to other
runtimes (on a PostgreSQL database other hosts share: to their machines through the
database, see ``_remote_inbox``), the process launcher, the runtime, this host's inbox (on
PostgreSQL), and last the control server. Then the caller's
``main`` starts its machines and waits for them.

Shutdown runs in the reverse order, in two stages. SIGINT, SIGTERM or SIGHUP (a closed
terminal, a dropped SSH session) -- or, for a child process, the end of its parent's
lifeline pipe -- cancels only the machines and the child processes: the store, the
publisher or monitor and the control server stay up while the machines clean up, so their
last records (registry rows removed, ``machine_terminated``) still reach the database and
the monitor. A second signal, or a clean-up longer than
SHUTDOWN_GRACE, stops everything at once.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import trio

from statemachine_engine._liveness import pid_alive
from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.errors import StateMachineError, sole_error
from statemachine_engine.persistence import Store, host_name, is_db_url, open_store
from statemachine_engine.service._children import ChildProcesses, LaunchSettings
from statemachine_engine.service._router import make_router, registry_transport
from statemachine_engine.transport import (
    DEFAULT_EVENT_SOCKET,
    ControlServer,
    Publisher,
    SocketEventPublisher,
    SocketTransport,
    control_socket_path,
)

if TYPE_CHECKING:
    from statemachine_engine.service._remote_inbox import HostsTransport

log = logging.getLogger("statemachine_engine.service")

#: how long shutdown may take before the process gives up waiting (the issue allows 5 s)
SHUTDOWN_GRACE = 4.0
#: how long a process whose machines have ended waits for their sent messages to be
#: acknowledged before it exits (those left go out when their sender next starts)
OUTBOX_GRACE = 30.0

#: ``start(store, event_socket_publisher, nursery)``: starts the monitor's servers in
#: ``nursery`` and returns the publisher the runtime is built with (see
#: :func:`statemachine_engine.monitor.embedded_monitor`)
MonitorHook = Callable[[Store, Publisher | None, trio.Nursery], Awaitable[Publisher]]
#: says one line of the process's progress at a logging level
Report = Callable[[int, str], None]


class Wiring:
    """Where one runtime process keeps its state and sockets.

    ``name`` names the control socket (the primary machine's name, or the project's);
    ``primary`` is the machine a control message without ``target`` goes to (None:
    refused). ``publish_to_event_socket``: False when the monitor hosted here listens
    there. ``log_dir`` and ``cwd``: where the children started by the launcher log, and
    the folder they run in. ``parent_fd``: a pipe the parent holds open, end of file
    meaning it is gone (a child runtime). ``sync``: the store's commit durability,
    ``normal`` survives kill -9, ``full`` a power loss.
    """

    __slots__ = (
        "actions_dir",
        "control_socket_prefix",
        "cwd",
        "db",
        "event_socket_path",
        "log_dir",
        "monitor",
        "name",
        "parent_fd",
        "primary",
        "publish_to_event_socket",
        "sync",
    )

    def __init__(
        self,
        db: str,
        name: str,
        primary: str | None,
        actions_dir: str | None = None,
        event_socket_path: str | None = None,
        control_socket_prefix: str | None = None,
        publish_to_event_socket: bool = True,
        monitor: MonitorHook | None = None,
        log_dir: str = "logs",
        cwd: str | None = None,
        parent_fd: int | None = None,
        sync: str = "normal",
    ) -> None:
        self.db = db
        self.name = name
        self.primary = primary
        self.actions_dir = actions_dir
        self.event_socket_path = event_socket_path
        self.control_socket_prefix = control_socket_prefix
        self.publish_to_event_socket = publish_to_event_socket
        self.monitor = monitor
        self.log_dir = log_dir
        self.cwd = cwd
        self.parent_fd = parent_fd
        self.sync = sync


class Wired:
    """The built parts a command's ``main`` works with. ``shared_host``: the host this
    runtime registers its machines under, when other hosts share the database
    (PostgreSQL); None on a database only this host uses."""

    __slots__ = ("launcher", "runtime", "shared_host", "store")

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        launcher: ChildProcesses,
        shared_host: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.launcher = launcher
        self.shared_host = shared_host


async def refuse_taken_names(wired: Wired, names: Sequence[str]) -> None:
    """Refuse to start machines whose names a live process on the same database already
    runs (names route events and key the registry); rows left by dead processes are taken
    over. StateMachineError naming who holds the name.

    A row another host registered is refused too: whether its process lives cannot be
    told from here, and two runtimes running one machine is worse than a refusal. An
    operator whose host is gone for good removes the row (``statemachine-db
    forget-machine NAME``, audited)."""
    rows = {row["machine_name"]: row for row in await wired.store.machines()}
    for name in names:
        row = rows.get(name)
        pid = row.get("pid") if row is not None else None
        other_host = row.get("host") if row is not None and wired.shared_host else None
        if other_host and other_host != wired.shared_host:
            raise StateMachineError(
                f"a machine named {name!r} is registered by host {other_host!r} (process"
                f" {pid}); stop it there, or if that host is gone for good, remove its row"
                f" with: statemachine-db forget-machine {name}"
            )
        if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
            where = f" at {row['endpoint']}" if row and row.get("endpoint") else ""
            raise StateMachineError(
                f"a machine named {name!r} is already running in process {pid}{where}; stop"
                " it first, or give this one another name"
            )


async def drain_outbox(runtime: Runtime) -> None:
    """Once the machines have ended: wait (bounded) for what durable ones sent to arrive."""
    if runtime.outbox_pending():
        log.info("waiting for %d sent messages to be acknowledged", runtime.outbox_pending())
    left = await runtime.drain_outbox(OUTBOX_GRACE)
    if left:
        log.warning(
            "%d sent messages not acknowledged after %g s; they stay in the outbox and go out"
            " when their sender next starts",
            left,
            OUTBOX_GRACE,
        )


def run_wired(
    wiring: Wiring,
    main: Callable[[Wired], Awaitable[int]],
    *,
    report: Report,
    prepare: Callable[[Store], Awaitable[None]] | None = None,
) -> int:
    """Run ``main`` in a process wired as ``wiring`` says until it returns or a signal
    arrives; the exit code (``128 + signal`` after a signal). ``prepare`` runs once the
    store is open, before anything else is started.

    A failure to start (a port or socket in use, a store that cannot be opened) raises
    that one StateMachineError, not the nursery's exception group around it.
    """
    try:
        return trio.run(_serve, wiring, main, report, prepare)
    except BaseExceptionGroup as group:
        raise sole_error(group, StateMachineError) from None


async def _serve(
    wiring: Wiring,
    main: Callable[[Wired], Awaitable[int]],
    report: Report,
    prepare: Callable[[Store], Awaitable[None]] | None,
) -> int:
    outcome: dict[str, int] = {}
    machines_scope = trio.CancelScope()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_watch_signals, machines_scope, nursery.cancel_scope, outcome, report)
        if wiring.parent_fd is not None:
            nursery.start_soon(_watch_parent, wiring.parent_fd, machines_scope, outcome, report)
        code = await _run(wiring, main, prepare, machines_scope)
        outcome.setdefault("code", code)
        nursery.cancel_scope.cancel()
    return outcome["code"]


async def _watch_signals(
    machines_scope: trio.CancelScope,
    everything: trio.CancelScope,
    outcome: dict[str, int],
    report: Report,
) -> None:
    """The first SIGINT/SIGTERM/SIGHUP stops the machines; a second one, or a clean-up that takes
    longer than SHUTDOWN_GRACE, stops everything at once."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for signum in signals:
            outcome["code"] = 128 + signum
            report(logging.INFO, f"received {signal.Signals(signum).name}; stopping")
            machines_scope.cancel()
            break
        with trio.move_on_after(SHUTDOWN_GRACE):
            async for signum in signals:
                name = signal.Signals(signum).name
                report(logging.WARNING, f"received {name} again; stopping now")
                break
            everything.cancel()
            return
        report(logging.WARNING, f"clean-up took longer than {SHUTDOWN_GRACE:g} s; stopping now")
        everything.cancel()


async def _watch_parent(
    fd: int, machines_scope: trio.CancelScope, outcome: dict[str, int], report: Report
) -> None:
    """Stop the machines, as SIGTERM would, when the parent runtime that started this one
    is gone -- even killed with SIGKILL: the kernel closes its end of the pipe."""
    async with trio.lowlevel.FdStream(fd) as pipe:
        while await pipe.receive_some(64):
            pass  # the parent never writes; anything but end of file is ignored
    if not machines_scope.cancel_called:
        report(logging.WARNING, "the parent runtime is gone; stopping")
        outcome.setdefault("code", 128 + signal.SIGTERM)
        machines_scope.cancel()


async def _run(
    wiring: Wiring,
    main: Callable[[Wired], Awaitable[int]],
    prepare: Callable[[Store], Awaitable[None]] | None,
    machines_scope: trio.CancelScope,
) -> int:
    event_socket = wiring.event_socket_path or DEFAULT_EVENT_SOCKET
    control_path = control_socket_path(wiring.name, wiring.control_socket_prefix)
    host = host_name()
    shared = is_db_url(wiring.db)  # other hosts may run machines on this database
    async with (
        open_store(wiring.db, synchronous=wiring.sync, host=host) as store,
        trio.open_nursery() as services,
    ):
        if prepare is not None:
            await prepare(store)
        socket_publisher: SocketEventPublisher | None = None
        if wiring.publish_to_event_socket:
            # with a monitor here the machines' events reach it in-process; the event
            # socket is for a monitor elsewhere, whose absence is no news
            socket_publisher = SocketEventPublisher(event_socket, quiet=wiring.monitor is not None)
            await services.start(socket_publisher.run)
        transport: SocketTransport | HostsTransport
        transport = registry_transport(store, wiring.control_socket_prefix)
        if shared:
            # imported only here: an idle machine on SQLite never needs the hosts' path
            from statemachine_engine.service._remote_inbox import HostsTransport

            transport = HostsTransport(store, transport, host)
        stop_inbox: Callable[[], Awaitable[None]] | None = None
        launcher = ChildProcesses(
            LaunchSettings(
                db=wiring.db,
                event_socket_path=wiring.event_socket_path,
                control_socket_prefix=wiring.control_socket_prefix,
                actions_dir=wiring.actions_dir,
                log_dir=wiring.log_dir,
                cwd=wiring.cwd,
                sync=wiring.sync,
            ),
            services,
        )
        try:
            with machines_scope:
                # the monitor first: when its ports are taken, no control socket has been
                # created yet
                publisher: Publisher | None = socket_publisher
                if wiring.monitor is not None:
                    publisher = await wiring.monitor(store, socket_publisher, services)
                async with open_runtime(
                    store=store,
                    publisher=publisher,
                    transport=transport,
                    actions_dir=wiring.actions_dir,
                    endpoint=control_path,
                    process_launcher=launcher,
                ) as runtime:
                    try:
                        if shared:
                            from statemachine_engine.service._remote_inbox import (
                                serve_remote_inbox,
                            )

                            stop_inbox = await serve_remote_inbox(
                                runtime, wiring.db, host, services
                            )
                        router = make_router(runtime, wiring.primary, store)
                        await services.start(ControlServer(control_path, router).run)
                        return await main(Wired(runtime, store, launcher, host if shared else None))
                    finally:
                        # while the store and the monitor still take their last records
                        await launcher.stop()
        finally:
            with trio.CancelScope(shield=True):
                if socket_publisher is not None:
                    with trio.move_on_after(SHUTDOWN_GRACE / 2):
                        await socket_publisher.flush()
                await transport.aclose()
                if stop_inbox is not None:
                    await stop_inbox()
            services.cancel_scope.cancel()
    # only reached when the machines were cancelled (a signal, the parent gone)
    return 0
