"""Runtime: hosts many machines in one trio nursery and supervises them.

The runtime builds the services its machines get -- a :class:`Reporter`, a
:class:`TimerQueue`, a :class:`Directory` and a :class:`Spawner` -- and hands each machine
those, never itself: calls go down from here, nothing below calls back up.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.actions import ActionRegistry, BaseAction, get_registry
from statemachine_engine.actors._directory import Directory
from statemachine_engine.actors._launcher import ProcessLauncher
from statemachine_engine.actors._ref import ActorRef
from statemachine_engine.actors._reporter import Reporter
from statemachine_engine.actors._spawner import Spawner
from statemachine_engine.actors._timers import TimerQueue
from statemachine_engine.config import MachineSpec
from statemachine_engine.transport import Message, Publisher, Transport

if TYPE_CHECKING:
    from statemachine_engine.actors._machine import MachineActor
    from statemachine_engine.actors._statistics import ActorStatistics
    from statemachine_engine.persistence import Store

DEFAULT_MAILBOX = 1024


class Runtime:
    """Hosts machines; use :func:`open_runtime` to get one.

    Machines are reached by name with :meth:`ref` or :meth:`deliver`. A machine whose own code
    fails is recorded as crashed; the others keep running.
    """

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        store: Store | None = None,
        publisher: Publisher | None = None,
        transport: Transport | None = None,
        actions_dir: str | Path | None = None,
        wall_clock: Callable[[], float] = time.time,
        mailbox_capacity: int = DEFAULT_MAILBOX,
        endpoint: str | None = None,
        pid: int | None = None,
        actions: Mapping[str, type[BaseAction]] | None = None,
        process_launcher: ProcessLauncher | None = None,
    ) -> None:
        self.store = store
        self.transport = transport
        self.actions_dir = actions_dir
        self.mailbox_capacity = mailbox_capacity
        self.endpoint = endpoint
        self.pid = os.getpid() if pid is None else pid
        self.registry: ActionRegistry = get_registry(actions_dir)
        self.registry.load_all()
        if actions:
            self.registry = self.registry.with_classes(dict(actions))
        self._reporter = Reporter(
            store=store,
            publisher=publisher,
            wall_clock=wall_clock,
            pid=self.pid,
            endpoint=endpoint,
        )
        self._directory = Directory(transport)
        self._spawner = Spawner(
            nursery,
            directory=self._directory,
            reporter=self._reporter,
            timers=TimerQueue(nursery),
            store=store,
            registry=self.registry,
            actions_dir=actions_dir,
            mailbox_capacity=mailbox_capacity,
            process_launcher=process_launcher,
        )

    # -- what the runtime was built with -------------------------------------------------------

    @property
    def publisher(self) -> Publisher | None:
        return self._reporter.publisher

    @property
    def process_launcher(self) -> ProcessLauncher | None:
        """Starts ``start_fsm process: true`` machines; None where processes cannot start."""
        return self._spawner.process_launcher

    @property
    def wall_time(self) -> Callable[[], float]:
        """The clock that stamps records and events."""
        return self._reporter.wall_time

    @property
    def seam_failures(self) -> dict[str, int]:
        """Failures of the publisher and the store (which never stop a machine), by seam."""
        return self._reporter.seam_failures

    @property
    def crashes(self) -> list[tuple[str, BaseException]]:
        """(machine name, exception) of every machine whose own code failed."""
        return self._reporter.crashes

    @property
    def machines(self) -> dict[str, MachineActor]:
        """The registry: every machine started here by name (stopped ones until reused)."""
        return self._directory.machines

    # -- machines ------------------------------------------------------------------------

    async def spawn(
        self,
        spec: MachineSpec | str | Path,
        *,
        name: str | None = None,
        context: Mapping[str, Any] | None = None,
        mailbox_capacity: int | None = None,
        actions_dir: str | Path | None = None,
        fresh: bool = False,
        durable: bool | None = None,
    ) -> ActorRef:
        """Start a machine and return its ref once it can receive events.

        ``spec`` is a loaded :class:`MachineSpec` or the path of its YAML file. ``name``
        defaults to ``metadata.machine_name``, else the file stem. ``actions_dir`` gives
        this machine its own custom actions folder (default: the runtime's).

        A durable machine (``durable: true`` in its YAML, or ``durable=True`` here) that has
        a checkpoint in the store resumes from it -- ``context`` is then ignored -- unless
        ``fresh`` discards the checkpoint. ConfigError when the checkpoint names a state the
        config no longer has; StateMachineError when another live process runs it.
        """
        return await self._spawner.spawn(
            spec,
            name=name,
            context=context,
            mailbox_capacity=mailbox_capacity,
            actions_dir=actions_dir,
            fresh=fresh,
            durable=durable,
        )

    def outbox_pending(self) -> int:
        """Messages sent by durable machines and not acknowledged yet."""
        return self._spawner.outbox.pending()

    async def drain_outbox(self, within: float) -> int:
        """Wait up to ``within`` seconds for the messages durable machines sent to be
        acknowledged; returns how many are still undelivered (they stay in the outbox and
        go out when their sender next starts)."""
        outbox = self._spawner.outbox
        with trio.move_on_after(within):
            await outbox.wait_drained()
        return outbox.pending()

    def kill(self, name: str) -> None:
        """Stop machine ``name`` as SIGKILL would stop its process: no clean-up is recorded,
        and a durable machine keeps its checkpoint as last committed (tests of resuming)."""
        actor = self._directory.running(name)
        if actor is None:
            raise KeyError(name)
        actor.kill()

    def running_names(self) -> list[str]:
        """The names of the machines running in this runtime, sorted."""
        return self._directory.running_names()

    async def deliver_local(self, message: Message, *, recorded: bool = False) -> str | None:
        """Put ``message`` in the mailbox of its target in this runtime; KeyError when no
        machine of that name was started here, ActorStopped when it has stopped. Waits
        only while the mailbox is full (or, for a durable machine, for its inbox row).
        Returns the target's state when the event will surely fire nothing there (the
        machine waited idle, nothing before it), else None. ``recorded``: a durable
        target's inbox holds the message already (it came through the database)."""
        return await self._directory.deliver_local(message, recorded=recorded)

    def durable_names(self) -> set[str]:
        """The names of the durable machines running in this runtime."""
        return {name for name in self._directory.running_names() if self.machines[name].durable}

    def ref(self, name: str) -> ActorRef:
        """The ref of a running machine; KeyError if there is none by that name."""
        actor = self._directory.running(name)
        if actor is None:
            raise KeyError(name)
        return actor.ref

    async def deliver(self, message: Message) -> None:
        """Route ``message`` by its target: into a local mailbox, else through the transport."""
        await self._directory.deliver(message)

    def statistics(self) -> dict[str, ActorStatistics]:
        return {name: actor.statistics() for name, actor in self.machines.items()}

    def machine_statistics(self, name: str) -> ActorStatistics:
        """The counters of the machine started here as ``name``, running or stopped;
        KeyError if none was."""
        return self.machines[name].statistics()

    async def stop(self) -> None:
        """Stop every machine (running actions are cancelled) and wait for their clean-up."""
        for actor in list(self.machines.values()):
            actor.cancel()
        for actor in list(self.machines.values()):
            if actor.status != "starting":
                await actor.terminated.wait()


@asynccontextmanager
async def open_runtime(
    *,
    store: Store | None = None,
    publisher: Publisher | None = None,
    transport: Transport | None = None,
    actions_dir: str | Path | None = None,
    wall_clock: Callable[[], float] = time.time,
    mailbox_capacity: int = DEFAULT_MAILBOX,
    endpoint: str | None = None,
    actions: Mapping[str, type[BaseAction]] | None = None,
    process_launcher: ProcessLauncher | None = None,
) -> AsyncIterator[Runtime]:
    """Open a runtime; on exit every machine is stopped and cleaned up.

    Leaving the block normally waits for nothing: machines still running are stopped.
    Use ``await ref.wait_stopped()`` first to let them finish. ``actions`` adds action
    classes by type name (embedded use and tests), besides built-ins and ``actions_dir``.
    Without ``store``, the runtime keeps no records unless ``$STATEMACHINE_DB`` names a
    database, as for the commands: that one is then opened, and closed after the runtime.
    """
    from statemachine_engine.persistence import DB_ENV_VAR

    async with AsyncExitStack() as stack:
        if store is None and os.environ.get(DB_ENV_VAR):
            from statemachine_engine.persistence import open_store, resolve_db_path

            store = await stack.enter_async_context(open_store(resolve_db_path(None)))
        async with trio.open_nursery() as nursery:
            runtime = Runtime(
                nursery,
                store=store,
                publisher=publisher,
                transport=transport,
                actions_dir=actions_dir,
                wall_clock=wall_clock,
                mailbox_capacity=mailbox_capacity,
                endpoint=endpoint,
                actions=actions,
                process_launcher=process_launcher,
            )
            try:
                yield runtime
            finally:
                nursery.cancel_scope.cancel()
