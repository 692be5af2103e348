"""Durable-machine test kit: one in-memory store outliving the runtimes that resume from it.

``runtime_on(store)`` opens a runtime on the virtual clock with the test actions:

* ``mark``  -- append ``label`` to ``context["done"]`` and to the module's ``RUNS`` list
  (what ran, in order, across runtimes); return ``event`` (if any).
* ``wait``  -- sleep ``seconds``, then the same as ``mark``.
* ``send``  -- ``send_event`` ``event`` to machine ``to`` with payload ``{"n": context n}``.
* ``count`` -- add one to ``context["n"]``; return ``more`` below ``limit``, else ``enough``.
* ``collect`` -- append the received ``payload.n`` to ``context["got"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.persistence import SqliteStore, open_store

#: (label, attempt) of every mark/wait action that ran, in order
RUNS: list[tuple[str, int]] = []


class MarkAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        label = str(self.config["label"])
        RUNS.append((label, int(context.get("action_attempt", 0))))
        context.setdefault("done", []).append(label)
        return self.config.get("event")


class WaitAction(MarkAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        await trio.sleep(float(self.config["seconds"]))
        return await super().execute(context)


class SendAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        payload = {"n": context.get("n", 0)}
        await self.host.send(str(self.config["to"]), str(self.config["event"]), payload)
        return None


class CountAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        context["n"] = context.get("n", 0) + 1
        return "more" if context["n"] < int(self.config["limit"]) else "enough"


class CollectAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        payload = context["event_data"].get("payload") or {}
        if "n" in payload:  # (not on the first entry, which no message fired)
            context.setdefault("got", []).append(payload["n"])
        return None


ACTIONS: dict[str, type[BaseAction]] = {
    "mark": MarkAction,
    "wait": WaitAction,
    "send": SendAction,
    "count": CountAction,
    "collect": CollectAction,
}


@pytest.fixture(autouse=True)
def _clear_runs() -> None:
    RUNS.clear()


@pytest.fixture
def runs() -> list[tuple[str, int]]:
    return RUNS


@pytest.fixture
def spec() -> Callable[[str], MachineSpec]:
    def load(text: str) -> MachineSpec:
        return load_config_text(text, known_actions=ACTIONS)

    return load


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    async with open_store(":memory:", clock=trio.current_time) as opened:
        yield opened


@pytest.fixture
def runtime_on() -> Callable[[SqliteStore], AbstractAsyncContextManager[Runtime]]:
    def open_on(store: SqliteStore) -> AbstractAsyncContextManager[Runtime]:
        return open_runtime(store=store, wall_clock=trio.current_time, actions=ACTIONS)

    return open_on
