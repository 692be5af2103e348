"""Runtime: hosts many machines in one trio nursery and supervises them."""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio

from statemachine_engine._liveness import pid_alive
from statemachine_engine._thinning import worth_logging
from statemachine_engine.actions import ActionRegistry, BaseAction, get_registry
from statemachine_engine.actors._host import MachineHost
from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._machine import MachineActor
from statemachine_engine.actors._ref import ActorRef, ActorStatistics
from statemachine_engine.actors._timers import TimerQueue
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.errors import (
    ConfigError,
    MailboxFull,
    StateMachineError,
    TransportError,
)
from statemachine_engine.fsm import Table, compile_spec
from statemachine_engine.persistence._protocol import Store
from statemachine_engine.transport import MachineEvent, Message, Publisher, Transport

logger = logging.getLogger("statemachine_engine.runtime")

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
        self._nursery = nursery
        self.timers = TimerQueue(nursery)
        self.store = store
        self.publisher = publisher
        self.transport = transport
        self.actions_dir = actions_dir
        self.registry: ActionRegistry = get_registry(actions_dir)
        self.registry.load_all()
        if actions:
            self.registry = self.registry.with_classes(dict(actions))
        self.wall_time = wall_clock
        self.mailbox_capacity = mailbox_capacity
        self.endpoint = endpoint
        self.pid = os.getpid() if pid is None else pid
        self.machines: dict[str, MachineActor] = {}
        self.crashes: list[tuple[str, BaseException]] = []
        self._tables: dict[int, tuple[MachineSpec, Table]] = {}
        self._seq = 0
        #: failures of the publisher and the store, which must never stop a machine
        self.seam_failures: dict[str, int] = {}
        #: starts ``start_fsm process: true`` machines; None where processes cannot be started
        self.process_launcher = process_launcher

    # -- machines ------------------------------------------------------------------------

    async def spawn(
        self,
        spec: MachineSpec | str | Path,
        *,
        name: str | None = None,
        context: Mapping[str, Any] | None = None,
        mailbox_capacity: int | None = None,
        actions_dir: str | Path | None = None,
    ) -> ActorRef:
        """Start a machine and return its ref once it can receive events.

        ``spec`` is a loaded :class:`MachineSpec` or the path of its YAML file. ``name``
        defaults to ``metadata.machine_name``, else the file stem. ``actions_dir`` gives
        this machine its own custom actions folder (default: the runtime's).
        """
        registry = self.registry
        if actions_dir is not None:
            registry = get_registry(actions_dir)
            registry.load_all()
            if self.registry.extra:
                registry = registry.with_classes(self.registry.extra)
        if not isinstance(spec, MachineSpec):
            spec = load_config(spec, actions_dir=actions_dir or self.actions_dir)
        name = name or spec.default_name
        existing = self.machines.get(name)
        if existing is not None and not existing.terminated.is_set():
            raise StateMachineError(f"a machine named {name!r} is already running")
        self._check_actions(spec, registry)
        actor = MachineActor(
            self,
            spec,
            self._table(spec),
            name,
            dict(context or {}),
            registry,
            mailbox_capacity or self.mailbox_capacity,
        )
        self.machines[name] = actor
        started = False
        try:
            ref: ActorRef = await self._nursery.start(actor.run)
            started = True
        finally:
            # a machine that never started leaves no entry behind to block its name
            if not started and self.machines.get(name) is actor:
                del self.machines[name]
        return ref

    def _table(self, spec: MachineSpec) -> Table:
        cached = self._tables.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = self._tables[id(spec)] = (spec, compile_spec(spec))
        return cached[1]

    def _check_actions(self, spec: MachineSpec, registry: ActionRegistry) -> None:
        used = {a.type for lst in spec.actions.values() for a in lst}
        used |= {a.type for t in spec.transitions for a in t.actions}
        unknown = sorted(t for t in used if t not in registry)
        if unknown:
            known = ", ".join(registry.types())
            raise ConfigError(
                f"unknown action types {', '.join(unknown)}; known: {known}", file=spec.source
            )

    def running_names(self) -> list[str]:
        """The names of the machines running in this runtime, sorted."""
        return sorted(n for n, a in self.machines.items() if not a.terminated.is_set())

    async def deliver_local(self, message: Message) -> None:
        """Put ``message`` in the mailbox of its target in this runtime; KeyError when no
        machine of that name runs here. Waits only while the mailbox is full."""
        target = message.target
        actor = self.machines.get(target) if target is not None else None
        if actor is None or actor.terminated.is_set():
            raise KeyError(target)
        try:
            # no schedule point while there is room: a pipelined sender's lines go into the
            # mailbox in one pass, instead of one pass of the scheduler per message
            actor.ref.send_message_nowait(message)
        except MailboxFull:
            await actor.ref.send_message(message)  # backpressure: wait for room

    def ref(self, name: str) -> ActorRef:
        """The ref of a running machine; KeyError if there is none by that name."""
        actor = self.machines.get(name)
        if actor is None or actor.terminated.is_set():
            raise KeyError(name)
        return actor.ref

    async def deliver(self, message: Message) -> None:
        """Route ``message`` by its target: into a local mailbox, else through the transport."""
        target = message.target
        if target is None:
            raise TransportError("message has no target")
        actor = self.machines.get(target)
        if actor is not None and not actor.terminated.is_set():
            await actor.ref.send_message(message)
            return
        if self.transport is not None:
            await self.transport.deliver(target, message)
            return
        raise TransportError(
            f"no machine named {target!r} is running in this runtime", target=target
        )

    async def spawn_child(
        self,
        parent: MachineActor,
        config_path: str,
        *,
        name: str,
        context: Mapping[str, Any] | None,
        on_done: str | None,
        process: bool,
    ) -> str:
        path = resolve_config_path(config_path, parent.spec.source)
        await self._refuse_taken_name(name)
        if process:
            if self.process_launcher is None:
                raise StateMachineError("this runtime cannot start machines as processes")

            def report_error(action: str, message: str) -> None:
                parent.context["last_error"] = message
                parent.context["last_error_action"] = action
                self.action_error(parent, action=action, message=message, tb="")

            await self.process_launcher.launch(
                ChildRequest(
                    config_path=path,
                    name=name,
                    context=dict(context or {}),
                    parent=parent.ref,
                    on_done=on_done,
                    report_error=report_error,
                )
            )
            return name
        ref = await self.spawn(path, name=name, context=context)
        if on_done:
            self._nursery.start_soon(self._report_done, ref, parent.ref, on_done)
        return name

    async def _refuse_taken_name(self, name: str) -> None:
        """A child's name must not be that of a running machine anywhere the registry
        knows of (another runtime, a child process): names route events and key the
        registry. Rows left by a process that died do not count."""
        if self.store is None or name in self.machines:
            return  # this runtime's own machines are refused by spawn
        row = await self.store.machine(name)
        if row is None or row.get("pid") == self.pid or not pid_alive(row.get("pid")):
            return
        raise StateMachineError(
            f"a machine named {name!r} is already running (process {row.get('pid')})"
        )

    async def _report_done(self, child: ActorRef, parent: ActorRef, event: str) -> None:
        status = await child.wait_stopped()
        payload = {"machine_name": child.name, "final_state": child.state, "status": status}
        try:
            await parent.send(event, payload, source=child.name)
        except StateMachineError:
            logger.info("parent %s stopped before child %s finished", parent.name, child.name)

    def statistics(self) -> dict[str, ActorStatistics]:
        return {name: actor.statistics() for name, actor in self.machines.items()}

    async def stop(self) -> None:
        """Stop every machine (running actions are cancelled) and wait for their clean-up."""
        for actor in list(self.machines.values()):
            actor.cancel()
        for actor in list(self.machines.values()):
            if actor.status != "starting":
                await actor.terminated.wait()

    # -- what machines report --------------------------------------------------------------

    def make_host(self, actor: MachineActor) -> MachineHost:
        return MachineHost(self, actor)

    def publish(self, machine: str, event_type: str, payload: Mapping[str, Any]) -> None:
        if self.publisher is None:
            return
        self._seq += 1
        now = self.wall_time()
        body = dict(payload)
        body.setdefault("timestamp", now)
        self._emit(MachineEvent(machine, event_type, body, now, self._seq))

    def _emit(self, event: MachineEvent) -> None:
        # Publishers promise never to raise; one that does must not take machines down.
        try:
            self.publisher.publish(event)  # type: ignore[union-attr]
        except Exception as exc:  # the publisher boundary: report once, count, go on
            self._seam_failed("publisher", exc)

    def record(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self.store is None:
            return
        try:
            getattr(self.store, method)(*args, **kwargs)
        except Exception as exc:  # the store boundary: report once, count, go on
            self._seam_failed("store", exc)

    def _seam_failed(self, what: str, exc: Exception) -> None:
        count = self.seam_failures.get(what, 0) + 1
        self.seam_failures[what] = count
        if worth_logging(count):
            logger.error("the %s failed (%d times so far): %s", what, count, exc, exc_info=exc)

    def machine_started(self, actor: MachineActor) -> None:
        now = self.wall_time()
        self.record(
            "machine_started",
            actor.name,
            current_state=actor.state,
            config_type=actor.spec.config_type,
            pid=self.pid,
            endpoint=self.endpoint,
            timestamp=now,
        )
        self.publish(
            actor.name,
            "machine_registered",
            {
                "machine_name": actor.name,
                "config_type": actor.spec.config_type,
                "current_state": actor.state,
                "template": actor.spec.template,
            },
        )

    def transition(self, actor: MachineActor, source: str, target: str, event: str) -> None:
        now = self.wall_time()
        if self.store is not None:
            self.record(
                "transition",
                actor.name,
                from_state=source,
                to_state=target,
                event=event,
                timestamp=now,
                context=actor.context,
            )
        if self.publisher is not None:
            self._seq += 1
            self._emit(
                MachineEvent(
                    actor.name,
                    "state_change",
                    {
                        "from_state": source,
                        "to_state": target,
                        "event_trigger": event,
                        "timestamp": now,
                    },
                    now,
                    self._seq,
                )
            )

    def action_error(self, actor: MachineActor, *, action: str, message: str, tb: str) -> None:
        job_id = actor.context.get("job_id")
        self.record(
            "error",
            actor.name,
            state=actor.state,
            action=action,
            message=message,
            traceback=tb,
            timestamp=self.wall_time(),
            job_id=str(job_id) if job_id is not None else None,
        )
        self.publish(
            actor.name,
            "error",
            {
                "error_message": message,
                "state": actor.state,
                "action": action,
                "job_id": job_id,
            },
        )

    def machine_crashed(self, actor: MachineActor, exc: BaseException) -> None:
        self.crashes.append((actor.name, exc))
        logger.error("machine %s crashed in state %r", actor.name, actor.state, exc_info=exc)
        self.action_error(
            actor,
            action="(runtime)",
            message=f"machine crashed: {type(exc).__name__}: {exc}",
            tb="".join(traceback.format_exception(exc)),
        )

    def machine_stopped(self, actor: MachineActor, reason: str) -> None:
        # stopped on purpose (Ctrl-C, SIGTERM, a parent stopping): the job it was running is
        # given back at once; a crash or a final state that left a job lets its lease lapse
        self.record("machine_stopped", actor.name, give_back_jobs=reason == "stopped")
        self.publish(
            actor.name,
            "machine_terminated",
            {
                "machine_name": actor.name,
                "config_type": actor.spec.config_type,
                "final_state": actor.state,
                "reason": reason,
            },
        )


def resolve_config_path(config_path: str, parent_source: str | None) -> str:
    """A child's config path: as given (relative to the working directory), else relative
    to the parent's config file."""
    path = Path(config_path).expanduser()
    if path.is_absolute() or path.exists() or parent_source is None:
        return str(path)
    beside = Path(parent_source).parent / path
    return str(beside) if beside.exists() else str(path)


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
    """
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
