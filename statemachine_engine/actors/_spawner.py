"""Spawner: starts machines in a runtime's nursery -- the ones asked for, and start_fsm children.

A child runs in this runtime, or, with ``process: true``, as an operating-system process
through the runtime's :class:`ProcessLauncher`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine._liveness import pid_alive
from statemachine_engine.actions import ActionRegistry, get_registry
from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._machine import MachineActor
from statemachine_engine.actors._services import MachineServices
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.errors import ConfigError, StateMachineError
from statemachine_engine.fsm import Table, compile_spec

if TYPE_CHECKING:
    from statemachine_engine.actors._directory import Directory
    from statemachine_engine.actors._ref import ActorRef
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.actors._timers import TimerQueue
    from statemachine_engine.persistence import Store

logger = logging.getLogger("statemachine_engine.runtime")


class Spawner:
    """Builds machine actors and starts them; owns the compiled tables and the launcher."""

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        directory: Directory,
        reporter: Reporter,
        timers: TimerQueue,
        store: Store | None,
        registry: ActionRegistry,
        actions_dir: str | Path | None,
        mailbox_capacity: int,
        process_launcher: ProcessLauncher | None,
    ) -> None:
        self._nursery = nursery
        self._directory = directory
        self._store = store
        self._pid = reporter.pid
        self.registry = registry
        self.actions_dir = actions_dir
        self.mailbox_capacity = mailbox_capacity
        #: starts ``start_fsm process: true`` machines; None where processes cannot be started
        self.process_launcher = process_launcher
        self._services = MachineServices(
            reporter=reporter, timers=timers, spawner=self, directory=directory, store=store
        )
        self._tables: dict[int, tuple[MachineSpec, Table]] = {}

    async def spawn(
        self,
        spec: MachineSpec | str | Path,
        *,
        name: str | None = None,
        context: Mapping[str, Any] | None = None,
        mailbox_capacity: int | None = None,
        actions_dir: str | Path | None = None,
    ) -> ActorRef:
        """What :meth:`Runtime.spawn` does (see there)."""
        registry = self.registry
        if actions_dir is not None:
            registry = get_registry(actions_dir)
            registry.load_all()
            if self.registry.extra:
                registry = registry.with_classes(self.registry.extra)
        if not isinstance(spec, MachineSpec):
            spec = load_config(spec, actions_dir=actions_dir or self.actions_dir)
        name = name or spec.default_name
        machines = self._directory.machines
        existing = machines.get(name)
        if existing is not None and not existing.terminated.is_set():
            raise StateMachineError(f"a machine named {name!r} is already running")
        _check_actions(spec, registry)
        actor = MachineActor(
            spec,
            self._table(spec),
            name,
            dict(context or {}),
            registry,
            mailbox_capacity or self.mailbox_capacity,
            self._services,
        )
        machines[name] = actor
        started = False
        try:
            ref: ActorRef = await self._nursery.start(actor.run)
            started = True
        finally:
            # a machine that never started leaves no entry behind to block its name
            if not started and machines.get(name) is actor:
                del machines[name]
        return ref

    def _table(self, spec: MachineSpec) -> Table:
        cached = self._tables.get(id(spec))
        if cached is None or cached[0] is not spec:
            cached = self._tables[id(spec)] = (spec, compile_spec(spec))
        return cached[1]

    async def spawn_child(
        self,
        config_path: str,
        *,
        parent: ActorRef,
        parent_source: str | None,
        report_error: Callable[[str, str], None],
        name: str,
        context: Mapping[str, Any] | None,
        on_done: str | None,
        process: bool,
    ) -> str:
        """Start a ``start_fsm`` child of ``parent``; returns its name. ``on_done`` is sent to
        the parent when the child stops; ``report_error`` fails the parent's action."""
        path = resolve_config_path(config_path, parent_source)
        await self._refuse_taken_name(name)
        if process:
            if self.process_launcher is None:
                raise StateMachineError("this runtime cannot start machines as processes")
            await self.process_launcher.launch(
                ChildRequest(
                    config_path=path,
                    name=name,
                    context=dict(context or {}),
                    parent=parent,
                    on_done=on_done,
                    report_error=report_error,
                )
            )
            return name
        ref = await self.spawn(path, name=name, context=context)
        if on_done:
            self._nursery.start_soon(_report_done, ref, parent, on_done)
        return name

    async def _refuse_taken_name(self, name: str) -> None:
        """A child's name must not be that of a running machine anywhere the registry
        knows of (another runtime, a child process): names route events and key the
        registry. Rows left by a process that died do not count."""
        if self._store is None or name in self._directory.machines:
            return  # this runtime's own machines are refused by spawn
        row = await self._store.machine(name)
        if row is None or row.get("pid") == self._pid or not pid_alive(row.get("pid")):
            return
        raise StateMachineError(
            f"a machine named {name!r} is already running (process {row.get('pid')})"
        )


def _check_actions(spec: MachineSpec, registry: ActionRegistry) -> None:
    used = {a.type for lst in spec.actions.values() for a in lst}
    used |= {a.type for t in spec.transitions for a in t.actions}
    unknown = sorted(t for t in used if t not in registry)
    if unknown:
        known = ", ".join(registry.types())
        raise ConfigError(
            f"unknown action types {', '.join(unknown)}; known: {known}", file=spec.source
        )


async def _report_done(child: ActorRef, parent: ActorRef, event: str) -> None:
    status = await child.wait_stopped()
    payload = {"machine_name": child.name, "final_state": child.state, "status": status}
    try:
        await parent.send(event, payload, source=child.name)
    except StateMachineError:
        logger.info("parent %s stopped before child %s finished", parent.name, child.name)


def resolve_config_path(config_path: str, parent_source: str | None) -> str:
    """A child's config path: as given (relative to the working directory), else relative
    to the parent's config file."""
    path = Path(config_path).expanduser()
    if path.is_absolute() or path.exists() or parent_source is None:
        return str(path)
    beside = Path(parent_source).parent / path
    return str(beside) if beside.exists() else str(path)
