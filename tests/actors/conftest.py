"""Actor test kit: inline test actions, a runtime on the virtual clock, and a readable story.

Test actions publish ``trace`` machine events through their host, so one ordered list (the
``recorder`` publisher) holds what actions did *and* what the runtime did, each with its
virtual timestamp. ``story(recorder)`` renders it as ``(t, machine, what)`` tuples:
``"a --go--> b"`` for a transition, the action's label for a trace, ``"!error: ..."`` for an
error event, ``"=terminated <reason> in <state>"`` for machine_terminated.

Actions (type: what it does):

* ``mark``  -- trace ``label``; return ``event`` (if any).
* ``wait``  -- sleep ``seconds``; trace ``<label> done`` and return ``event``; when cancelled,
  trace ``<label> cancelled`` and re-raise.
* ``fail``  -- raise RuntimeError(``message``).
* ``keep``  -- append the interpolated ``value`` to ``context["kept"]``; return ``event``.
* ``ask``   -- send ``send`` (with ``payload``) to machine ``to`` (default: itself), then
  sleep ``seconds`` and return ``event``: the request/reply race.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trio

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.transport import MachineEvent, RecordingPublisher


class MarkAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        self.host.publish("trace", {"label": str(self.get_config_value("label"))})
        return self.config.get("event")


class WaitAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        label = self.config.get("label", "wait")
        try:
            if self.STARTS_UNSCOPED:
                # block once before trio.sleep opens its own cancel scope, so that the
                # machine's scope goes around the sleep
                await trio.lowlevel.checkpoint()
            await trio.sleep(float(self.config["seconds"]))
        except trio.Cancelled:
            self.host.publish("trace", {"label": f"{label} cancelled"})
            raise
        self.host.publish("trace", {"label": f"{label} done"})
        return self.config.get("event")


class FailAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        raise RuntimeError(self.config.get("message", "boom"))


class KeepAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        context.setdefault("kept", []).append(self.get_config_value("value"))
        return self.config.get("event")


class AskAction(BaseAction):
    async def execute(self, context: dict[str, Any]) -> str | None:
        target = self.config.get("to", self.host.machine_name)
        await self.host.send(target, self.config["send"], self.config.get("payload"))
        self.host.publish("trace", {"label": f"asked {target}"})
        await trio.sleep(float(self.config.get("seconds", 0)))
        self.host.publish("trace", {"label": "ask returns"})
        return self.config.get("event")


TEST_ACTIONS: dict[str, type[BaseAction]] = {
    "mark": MarkAction,
    "wait": WaitAction,
    "fail": FailAction,
    "keep": KeepAction,
    "ask": AskAction,
}
#: the same actions started without the state's cancel scope (``STARTS_UNSCOPED``), as the
#: built-in ones are; ``ask`` sends before it blocks and keeps the scope from the start
UNSCOPED_ACTIONS: dict[str, type[BaseAction]] = {
    name: cls if name == "ask" else type(cls.__name__, (cls,), {"STARTS_UNSCOPED": True})
    for name, cls in TEST_ACTIONS.items()
}

Story = list[tuple[float, str, str]]


def _render(event: MachineEvent) -> str | None:
    p = event.payload
    if event.type == "state_change":
        return f"{p['from_state']} --{p['event_trigger']}--> {p['to_state']}"
    if event.type == "trace":
        return str(p["label"])
    if event.type == "error":
        return f"!error: {p['error_message']}"
    if event.type == "machine_terminated":
        return f"=terminated {p['reason']} in {p['final_state']}"
    return None


@pytest.fixture
def story() -> Callable[..., Story]:
    """``story(recorder, machine=None)`` -> [(t, machine, what)] in publication order."""

    def render(recorder: RecordingPublisher, machine: str | None = None) -> Story:
        out: Story = []
        for event in recorder.events:
            if machine is not None and event.machine_name != machine:
                continue
            text = _render(event)
            if text is not None:
                out.append((event.timestamp, event.machine_name, text))
        return out

    return render


@pytest.fixture
def spec() -> Callable[[str], MachineSpec]:
    """``spec(yaml)`` -> a MachineSpec, action types checked against the test actions."""

    def load(text: str) -> MachineSpec:
        return load_config_text(text, known_actions=TEST_ACTIONS)

    return load


@pytest.fixture
def unscoped_actions() -> dict[str, type[BaseAction]]:
    """The test actions, started without the state's cancel scope where they allow it."""
    return dict(UNSCOPED_ACTIONS)


@pytest.fixture(params=["scoped", "unscoped"])
async def runtime(
    recorder: RecordingPublisher, request: pytest.FixtureRequest
) -> AsyncIterator[Runtime]:
    """A runtime with the test actions, publishing to ``recorder`` with virtual timestamps;
    every test runs twice, its actions started in the state's cancel scope and without."""
    actions = TEST_ACTIONS if request.param == "scoped" else UNSCOPED_ACTIONS
    async with open_runtime(
        publisher=recorder, wall_clock=trio.current_time, actions=actions
    ) as rt:
        yield rt
