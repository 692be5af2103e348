"""Shared fixtures for action tests: ``fake_host``, ``make_host`` and ``run_action``.

``FakeHost`` implements the ActionHost protocol in memory and records what actions ask of it
(published events, activity lines, sends, spawns). ``run_action(config, context)`` runs one
action the way the runtime does: interpolate the config against the context, build the class
registered for its ``type``, set ``host``, await ``execute``. Test modules use the fixtures; for
annotations they may ``from conftest import FakeHost`` under ``TYPE_CHECKING`` only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import pytest

from statemachine_engine.actions import BaseAction, get_registry
from statemachine_engine.config import MachineSpec, interpolate, load_config_text
from statemachine_engine.persistence._protocol import Store

FAKE_SPEC_YAML = """
name: fake
initial_state: waiting
states: [waiting, done]
transitions:
  - {from: waiting, to: done, event: go}
"""


@attrs.define
class Sent:
    target: str
    event_type: str
    payload: Any
    job_id: str | None


@attrs.define
class Spawned:
    config_path: str
    name: str
    context: dict[str, Any]
    on_done: str | None
    process: bool


@attrs.define
class FakeHost:
    """An ActionHost that records everything and delivers nothing.

    Make ``send`` or ``spawn`` fail by setting ``send_error`` / ``spawn_error`` to an
    exception instance; ``spawn_name`` overrides the name ``spawn`` returns.
    """

    machine_name: str = "tester"
    spec: MachineSpec = attrs.field(factory=lambda: load_config_text(FAKE_SPEC_YAML))
    store: Store | None = None
    now: float = 1_700_000_000.0
    published: list[tuple[str, dict[str, Any]]] = attrs.Factory(list)
    activities: list[dict[str, Any]] = attrs.Factory(list)
    sent: list[Sent] = attrs.Factory(list)
    spawned: list[Spawned] = attrs.Factory(list)
    send_error: BaseException | None = None
    spawn_error: BaseException | None = None
    spawn_name: str | None = None
    errors: list[tuple[str, str]] = attrs.Factory(list)  # report_error(action, message)

    def publish(self, event_type: str, payload: Mapping[str, Any]) -> None:
        self.published.append((event_type, dict(payload)))

    def log_activity(self, message: str, level: str = "info", **fields: Any) -> None:
        self.activities.append({"message": message, "level": level, **fields})
        self.publish("activity_log", {"message": message, "level": level, **fields})

    def report_error(self, action: str, message: str) -> None:
        self.errors.append((action, message))

    async def send(
        self, target: str, event_type: str, payload: Any = None, *, job_id: str | None = None
    ) -> None:
        if self.send_error is not None:
            raise self.send_error
        self.sent.append(Sent(target, event_type, payload, job_id))

    async def spawn(
        self,
        config_path: str,
        *,
        name: str,
        context: Mapping[str, Any] | None = None,
        on_done: str | None = None,
        process: bool = False,
    ) -> str:
        if self.spawn_error is not None:
            raise self.spawn_error
        self.spawned.append(Spawned(config_path, name, dict(context or {}), on_done, process))
        return self.spawn_name or name

    def wall_time(self) -> float:
        return self.now


RunAction = Callable[..., Awaitable[str | None]]


def build_action(config: Mapping[str, Any], context: Mapping[str, Any]) -> BaseAction:
    """The action instance the runtime would build for ``config`` in ``context`` (every value
    interpolated, top level and under ``params:``, except the class's ``RAW_KEYS``)."""
    cls = get_registry().get(str(config["type"]))
    raw = cls.RAW_KEYS

    def fill(mapping: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v if k in raw else interpolate(v, context) for k, v in mapping.items()}

    interpolated = fill(config)
    if isinstance(config.get("params"), Mapping):
        interpolated["params"] = fill(config["params"])
    return cls(interpolated)


@pytest.fixture
def fake_host() -> FakeHost:
    return FakeHost()


@pytest.fixture
def make_host() -> type[FakeHost]:
    """The FakeHost class, for tests that need several hosts (``make_host(machine_name=...)``)."""
    return FakeHost


@pytest.fixture
def run_action(fake_host: FakeHost) -> RunAction:
    """``await run_action(config, context=None, host=None)`` -> the event the action returns."""

    async def run(
        config: Mapping[str, Any],
        context: dict[str, Any] | None = None,
        host: FakeHost | None = None,
    ) -> str | None:
        if context is None:
            context = {}
        context.setdefault("machine_name", (host or fake_host).machine_name)
        action = build_action(config, context)
        action.host = host or fake_host
        return await action.execute(context)

    return run
