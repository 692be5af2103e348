"""Spawner: starts machines in a runtime's nursery -- the ones asked for, and start_fsm children.

A child runs in this runtime, or, with ``process: true``, as an operating-system process
through the runtime's :class:`ProcessLauncher`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine._liveness import pid_alive
from statemachine_engine.actions import ActionRegistry, get_registry
from statemachine_engine.actors._journal import Journal, Position, new_run_id
from statemachine_engine.actors._launcher import ChildRequest, ProcessLauncher
from statemachine_engine.actors._machine import MachineActor
from statemachine_engine.actors._outbox import Outbox
from statemachine_engine.actors._services import MachineServices
from statemachine_engine.config import MachineSpec
from statemachine_engine.errors import ConfigError, StateMachineError
from statemachine_engine.fsm import Table, compile_spec
from statemachine_engine.persistence import loads_context
from statemachine_engine.transport import Message

if TYPE_CHECKING:
    from statemachine_engine.actors._directory import Directory
    from statemachine_engine.actors._ref import ActorRef
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.actors._timers import TimerQueue
    from statemachine_engine.persistence import Recovery, Store

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
        self._reporter = reporter
        self.outbox = Outbox(
            nursery,
            directory=directory,
            reporter=reporter,
            log=store.durable if store is not None else None,
        )
        self._services = MachineServices(
            reporter=reporter,
            timers=timers,
            spawner=self,
            directory=directory,
            store=store,
            outbox=self.outbox,
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
        fresh: bool = False,
        durable: bool | None = None,
        parent: _Parent | None = None,
    ) -> ActorRef:
        """What :meth:`Runtime.spawn` does (see there). ``parent``: the durable machine whose
        ``start_fsm`` starts this one (its children are durable too)."""
        registry = self.registry
        if actions_dir is not None:
            registry = get_registry(actions_dir)
            registry.load_all()
            if self.registry.extra:
                registry = registry.with_classes(self.registry.extra)
        if not isinstance(spec, MachineSpec):
            # the YAML parser and the model's converter only when a path is given
            from statemachine_engine.config import load_config

            spec = load_config(spec, actions_dir=actions_dir or self.actions_dir)
        name = name or spec.default_name
        machines = self._directory.machines
        existing = machines.get(name)
        if existing is not None and not existing.terminated.is_set():
            raise StateMachineError(f"a machine named {name!r} is already running")
        _check_actions(spec, registry)
        table = self._table(spec)
        context = dict(context or {})
        journal = recovery = None
        if (spec.durable if durable is None else durable) or parent is not None:
            journal, recovery = await self._open_journal(spec, table, name, fresh, parent)
            if recovery is not None:
                context = loads_context(recovery.checkpoint.get("context"))
        actor = MachineActor(
            spec,
            table,
            name,
            context,
            registry,
            mailbox_capacity or self.mailbox_capacity,
            self._services,
            journal=journal,
            resume=Position.from_row(recovery.checkpoint) if recovery is not None else None,
        )
        machines[name] = actor
        late: list[Message] = []
        if recovery is not None:
            late = actor.preload([_message(text) for _, text in recovery.inbox])
        started = False
        try:
            ref: ActorRef = await self._nursery.start(actor.run)
            started = True
        finally:
            # a machine that never started leaves no entry behind to block its name
            if not started and machines.get(name) is actor:
                del machines[name]
        if recovery is not None:
            for message in late:
                await actor.redeliver(message)
            for _, _, text in recovery.outbox:
                self.outbox.post(_message(text))
            if journal is not None and recovery.children:
                await self._resume_children(ref, journal.run_id, recovery.children)
        return ref

    async def _open_journal(
        self, spec: MachineSpec, table: Table, name: str, fresh: bool, parent: _Parent | None
    ) -> tuple[Journal, Recovery | None]:
        """The journal of a durable machine, and the checkpoint it resumes from (None: it
        starts fresh -- there is none, ``fresh`` discarded it, or it belongs to an earlier
        run of the parent that starts it)."""
        if self._store is None:
            raise ConfigError(
                f"machine {name!r} is durable: it needs a store (--db)", file=spec.source
            )
        log = self._store.durable
        recovery = await log.recover(name)
        ended = recovery is not None and recovery.checkpoint.get("status") == "final"
        if recovery is not None and ended:
            # an earlier run ended with messages not delivered yet: they still go out
            for _, _, text in recovery.outbox:
                self.outbox.post(_message(text))
        # a new run of the parent starts its children afresh
        other_run = (
            parent is not None
            and recovery is not None
            and recovery.checkpoint.get("parent_run") != parent.run_id
        )
        if ended or fresh or other_run:
            recovery = None
        if recovery is None:
            discarded = await log.discard(name, outbox=not ended)
            if fresh and any(discarded):
                logger.info(
                    "%s: starting fresh; its checkpoint was discarded (%d pending messages in"
                    " its inbox and %d in its outbox marked discarded)",
                    name,
                    discarded[1],
                    discarded[2],
                )
            journal = Journal(name, log, self._reporter.wall_time, run_id=new_run_id())
        else:
            row = recovery.checkpoint
            pid = row.get("pid")
            if row.get("status") == "running" and pid != self._pid and pid_alive(pid):
                raise StateMachineError(
                    f"durable machine {name!r} is running in process {pid}; stop it first"
                )
            position = Position.from_row(row)
            check_position(spec, table, name, position)
            journal = Journal(
                name, log, self._reporter.wall_time, run_id=str(row["run_id"]), resume=position
            )
        context = recovery.checkpoint.get("context") if recovery is not None else None
        log.started(name, journal.row(spec, parent, self._pid, context))
        return journal, recovery

    async def _resume_children(
        self, parent: ActorRef, run_id: str, children: Sequence[Mapping[str, Any]]
    ) -> None:
        """Resume the ``start_fsm`` children (in this runtime) of a resumed durable parent."""
        for row in children:
            if self._directory.running(row["machine_name"]) is not None:
                continue
            config_path = row.get("config_path")
            if not config_path:
                continue
            on_done = row.get("on_done")
            try:
                ref = await self.spawn(
                    config_path,
                    name=row["machine_name"],
                    parent=_Parent(parent.name, run_id, on_done),
                )
            except StateMachineError as exc:
                logger.error(
                    "cannot resume %s, started by %s: %s", row["machine_name"], parent.name, exc
                )
                continue
            if on_done:
                self._nursery.start_soon(_report_done, ref, parent, on_done)

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
        parent_run: str | None = None,
    ) -> str:
        """Start a ``start_fsm`` child of ``parent``; returns its name. ``on_done`` is sent to
        the parent when the child stops; ``report_error`` fails the parent's action.
        ``parent_run``: the run of a durable parent -- its in-process children are durable
        too, and resume with it."""
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
        child_of = _Parent(parent.name, parent_run, on_done) if parent_run else None
        ref = await self.spawn(path, name=name, context=context, parent=child_of)
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


class _Parent:
    """The durable machine (and its run) that starts a child with ``start_fsm``."""

    __slots__ = ("name", "on_done", "run_id")

    def __init__(self, name: str, run_id: str, on_done: str | None) -> None:
        self.name = name
        self.run_id = run_id
        self.on_done = on_done


def check_position(spec: MachineSpec, table: Table, name: str, at: Position) -> None:
    """Refuse a checkpoint the config cannot carry on from (states renamed since)."""
    fix = "start it with --fresh to discard the checkpoint"
    if at.state not in spec.all_states:
        raise ConfigError(
            f"the checkpoint of {name!r} is in state {at.state!r}, which this config no"
            f" longer has; {fix}",
            file=spec.source,
        )
    if at.phase == "transition" and table.select(at.from_state or "", at.event or "") is None:
        raise ConfigError(
            f"the checkpoint of {name!r} is in the middle of the transition"
            f" {at.from_state!r} --{at.event}--> {at.state!r}, which this config no longer"
            f" has; {fix}",
            file=spec.source,
        )


def _message(text: str) -> Message:
    return Message.from_dict(json.loads(text))


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
