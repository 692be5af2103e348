"""The published package's entry point, ``StateMachineEngine``, as a thin wrapper.

Its users' code keeps working, run by trio instead of asyncio::

    engine = StateMachineEngine(machine_name="worker")
    await engine.load_config("worker.yaml")
    await engine.execute_state_machine()

``process_event(event)`` is the published package's way to inject an event; here it sends the
event as :meth:`StateMachineEngine.send_event` does and says whether the machine's current
state has a transition for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from statemachine_engine.actors import ActorRef, open_runtime
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.fsm import Table, compile_spec
from statemachine_engine.persistence import Store
from statemachine_engine.transport import Publisher


class StateMachineEngine:
    """Runs one machine until it reaches a final state or ``is_running`` is set to False."""

    def __init__(
        self,
        machine_name: str | None = None,
        actions_root: str | Path | None = None,
        event_socket_path: str | None = None,
        control_socket_prefix: str | None = None,
        *,
        store: Store | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self.machine_name = machine_name
        self.actions_root = actions_root
        self.event_socket_path = event_socket_path
        self.control_socket_prefix = control_socket_prefix
        self.store = store
        self.publisher = publisher
        self.config: MachineSpec | None = None
        self._ref: ActorRef | None = None
        self._table: Table | None = None
        self._stop_requested = False

    async def load_config(self, yaml_path: str | Path) -> MachineSpec:
        """Load and check the YAML (raises ConfigError listing every problem)."""
        self.config = load_config(yaml_path, actions_dir=self.actions_root)
        self._table = compile_spec(self.config)
        if self.machine_name is None:
            self.machine_name = self.config.default_name
        return self.config

    @property
    def current_state(self) -> str | None:
        if self._ref is not None:
            return self._ref.state
        return self.config.initial_state if self.config is not None else None

    @property
    def context(self) -> dict[str, Any]:
        return self._ref.context if self._ref is not None else {}

    @property
    def is_running(self) -> bool:
        return self._ref is not None and self._ref.status == "running"

    @is_running.setter
    def is_running(self, value: bool) -> None:
        # the published package stops its loop when this is set to False
        if not value:
            self._stop_requested = True
            if self._ref is not None:
                self._ref.cancel()

    async def send_event(self, event: str, payload: Any = None) -> None:
        """Deliver an event to the running machine."""
        if self._ref is None:
            raise RuntimeError("the machine is not running; call execute_state_machine() first")
        await self._ref.send(event, payload)

    async def process_event(self, event: str, context: Mapping[str, Any] | None = None) -> bool:
        """The published package's event entry point: merge ``context`` into the machine's
        context, deliver ``event``, and return whether a transition from the current state
        matches it (False: the machine drops it, unless actions are still running, in which
        case it is examined again once they finish).
        """
        if self._ref is None or self._table is None:
            raise RuntimeError("the machine is not running; call execute_state_machine() first")
        if context:
            self._ref.context.update(context)
        fires = self._table.select(self._ref.state, event) is not None
        await self._ref.send(event)
        return fires

    async def execute_state_machine(self, initial_context: Mapping[str, Any] | None = None) -> str:
        """Run the machine until it stops; returns its last state."""
        if self.config is None:
            raise RuntimeError("No configuration loaded; call load_config() first")
        async with open_runtime(
            store=self.store, publisher=self.publisher, actions_dir=self.actions_root
        ) as runtime:
            self._ref = await runtime.spawn(
                self.config, name=self.machine_name, context=dict(initial_context or {})
            )
            if self._stop_requested:
                self._ref.cancel()
            await self._ref.wait_stopped()
            state = self._ref.state
        return state
