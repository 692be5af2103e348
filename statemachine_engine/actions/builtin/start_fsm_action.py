"""``start_fsm``: start a child machine from a YAML file, passing it part of this context."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import as_bool, fail, unresolved
from statemachine_engine.config import resolve_path
from statemachine_engine.errors import StateMachineError


class StartFsmAction(BaseAction):
    """Start a child machine named ``machine_name`` from ``yaml_path``.

    Keys:
        yaml_path: the child's configuration file (required).
        machine_name: the child's name (required), usually a template such as
            ``patient_record_{job_id}``; it must be unique among running machines: this
            runtime's, and any other process's the registry knows of (a child process,
            another runtime).
        context_vars: context values passed to the child, each ``"var"``, ``"a.b.c"`` (the
            child gets the same nesting, so ``{a.b.c}`` works there too) or ``"src as dst"``.
            Missing or null values are skipped with a warning.
        initial_context: a mapping merged into the child's context after ``context_vars``.
        on_done: event sent to this machine when the child reaches a final state; default
            none.
        process: when true, the child runs as a separate process instead of in this runtime;
            default false.
        store_pid: when true, append the child's process id to ``context["spawned_pids"]``
            (null for an in-process child, which has no process of its own: a ``kill`` of
            that list never hits this runtime).
        success: event once the child is started; default ``success``.
        error: event when the child cannot be started (broken YAML, name already running,
            ...); default ``error`` (``last_error`` says why).

    The child's name is always appended to ``context["spawned_machines"]``. ``additional_args``
    of the published package (command-line flags) are ignored with a warning for in-process
    children.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "success", "error": "error"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("yaml_path", "machine_name")
    KEYS: ClassVar[tuple[str, ...]] = (
        "yaml_path",
        "machine_name",
        "context_vars",
        "initial_context",
        "on_done",
        "process",
        "store_pid",
        "additional_args",
    )

    async def execute(self, context: dict[str, Any]) -> str | None:
        yaml_path = self._required("yaml_path", "the child's configuration file")
        name = self._required("machine_name", "the child machine's name")
        process = as_bool(self.get_config_value("process", False), key="start_fsm: process")
        store_pid = as_bool(self.get_config_value("store_pid", False), key="start_fsm: store_pid")
        on_done = self.get_config_value("on_done")
        on_done = None if on_done in (None, "") else str(on_done)
        if self.get_config_value("additional_args") and not process:
            self.logger.warning(
                "[%s] start_fsm %s: additional_args only apply to a child started with "
                "'process: true'; ignored",
                self.get_machine_name(context),
                name,
            )

        missing = unresolved([yaml_path, name], context)
        if missing:
            return fail(
                self,
                context,
                f"could not start {name} from {yaml_path}: placeholder(s) not found in the "
                f"context: {', '.join(missing)}",
            )
        child_context = self._child_context(context, name)

        try:
            started = await self.host.spawn(
                yaml_path, name=name, context=child_context, on_done=on_done, process=process
            )
        except (StateMachineError, ValueError, LookupError, OSError) as exc:
            return fail(self, context, f"could not start {name} from {yaml_path}: {exc}")

        context.setdefault("spawned_machines", []).append(started)
        if store_pid:
            context.setdefault("spawned_pids", []).append(await self._pid(started, process))
        self.logger.debug(
            "[%s] started %s from %s", self.get_machine_name(context), started, yaml_path
        )
        return self.event("success", "success")

    def _required(self, key: str, what: str) -> str:
        value = self.get_config_value(key)
        if value in (None, ""):
            raise ValueError(f"start_fsm: the {key!r} setting is required ({what})")
        return str(value)

    def _child_context(self, context: Mapping[str, Any], name: str) -> dict[str, Any]:
        """What the child starts with: the selected ``context_vars``, then ``initial_context``.

        Values are copied so parent and child never share a mutable object.
        """
        child: dict[str, Any] = {}
        specs = self.get_config_value("context_vars") or []
        if isinstance(specs, str):
            specs = [specs]
        for spec in specs:
            source, _, target = str(spec).partition(" as ")
            source = source.strip()
            target = target.strip() or source
            value = resolve_path(context, source)
            if value is None:
                self.logger.warning(
                    "[%s] start_fsm %s: context variable %r not found, not passed on",
                    self.get_machine_name(context),
                    name,
                    source,
                )
                continue
            _put(child, target, copy.deepcopy(value))
        extra = self.get_config_value("initial_context")
        if extra is not None:
            if not isinstance(extra, Mapping):
                raise ValueError(
                    f"start_fsm: initial_context must be a mapping, got {type(extra).__name__}"
                )
            child.update(copy.deepcopy(dict(extra)))
        return child

    async def _pid(self, child: str, process: bool) -> int | None:
        """The child's process id from the registry; None for an in-process child."""
        store = self.host.store
        if not process or store is None:
            return None
        row = await store.machine(child)
        pid = row.get("pid") if row is not None else None
        return int(pid) if pid is not None else None


def _put(target: dict[str, Any], dotted: str, value: Any) -> None:
    """``_put(d, "a.b", v)`` sets ``d["a"]["b"] = v``, creating the mappings on the way."""
    *parents, last = dotted.split(".")
    for part in parents:
        nested = target.get(part)
        if not isinstance(nested, dict):
            nested = target[part] = {}
        target = nested
    target[last] = value
