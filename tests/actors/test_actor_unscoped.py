"""Entry actions started without the state's cancel scope (``STARTS_UNSCOPED``): the scope
is entered once one blocks, and cancels it as if it had been there from the start."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest
import trio
import trio.testing

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import ActorRef, open_runtime
from statemachine_engine.actors._unscoped import Blocked, carry_on, start
from statemachine_engine.config import load_config_text
from statemachine_engine.transport import RecordingPublisher

if TYPE_CHECKING:
    from conftest import Story

    Run = Callable[..., Awaitable[Story]]

# -- start / carry_on ---------------------------------------------------------------------


async def test_a_coroutine_that_does_not_block_returns_its_value() -> None:
    async def at_once() -> int:
        await trio.lowlevel.checkpoint_if_cancelled()  # not cancelled: no schedule point
        return 7

    assert start(at_once(), trio.lowlevel.current_task()) == 7


async def test_a_blocked_coroutine_is_carried_on_under_the_scope_entered_after() -> None:
    woken = trio.Event()
    seen: list[str] = []

    async def waits() -> str:
        try:
            await woken.wait()
        except trio.Cancelled:
            seen.append("cancelled")
            raise
        return "woken"

    task = trio.lowlevel.current_task()
    blocked = start(waits(), task)
    assert isinstance(blocked, Blocked) and not blocked.scoped
    with trio.CancelScope() as scope:
        scope.cancel()
        await carry_on(blocked)
    assert scope.cancelled_caught and seen == ["cancelled"]

    async def wake() -> None:
        woken.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(wake)  # runs once this task blocks, in carry_on
        blocked = start(waits(), task)
        assert isinstance(blocked, Blocked)
        assert await carry_on(blocked) == "woken"


async def test_a_coroutine_blocked_in_its_own_scope_is_told_apart(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def sleeps() -> str:
        await trio.sleep(1)  # its own cancel scope is open when it blocks
        raise ValueError("after the sleep")

    blocked = start(sleeps(), trio.lowlevel.current_task())
    assert isinstance(blocked, Blocked) and blocked.scoped
    with pytest.raises(ValueError, match="after the sleep"):
        await carry_on(blocked)
    assert trio.current_time() == 1.0


# -- in a machine ------------------------------------------------------------------------

#: the machine under test, for the action that sends to it without waiting
_refs: dict[str, ActorRef] = {}


class PokeAction(BaseAction):
    """Delivers ``event`` to its own machine without a schedule point, then returns."""

    STARTS_UNSCOPED = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        _refs[self.host.machine_name].send_nowait(str(self.config["event"]))
        return None


class NapAction(BaseAction):
    """Marked STARTS_UNSCOPED, yet ``trio.sleep`` opens a cancel scope before it blocks."""

    STARTS_UNSCOPED = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        await trio.sleep(float(self.config["seconds"]))
        self.host.publish("trace", {"label": "nap done"})
        return None


#: a machine whose state ``working`` runs a first action, then a 10 s ``wait`` labelled long
WORKING = """
initial_state: idle
transitions:
  - {from: idle, to: working, event: begin}
  - {from: working, to: after, event: go}
actions:
  working:
    - FIRST
    - {type: wait, seconds: 10, label: long}
"""


@pytest.fixture
def run_working(
    unscoped_actions: dict[str, type[BaseAction]],
    recorder: RecordingPublisher,
    story: Callable[..., Story],
) -> Run:
    """``await run_working(first, go_at=...)``: machine ``m`` of ``WORKING`` with ``first``
    as its first action in ``working``, sent ``go`` ``go_at`` seconds after it got there
    (None: never); its story up to ``after``, without its end."""
    actions = {**unscoped_actions, "poke": PokeAction, "nap": NapAction}

    async def run(first: str, *, go_at: float | None) -> Story:
        spec = load_config_text(WORKING.replace("FIRST", first), known_actions=actions)
        async with open_runtime(
            publisher=recorder, wall_clock=trio.current_time, actions=actions
        ) as runtime:
            ref = await runtime.spawn(spec, name="m")
            _refs["m"] = ref
            await ref.send("begin")
            if go_at is not None:
                await trio.sleep(go_at)
                await ref.send("go")
            await ref.wait_state("after")
            await ref.stop()
            await ref.wait_stopped()
        return [line for line in story(recorder, "m") if not line[2].startswith("=")]

    return run


async def test_an_event_delivered_while_an_unscoped_action_runs_cancels_the_next(
    autojump_clock: trio.testing.MockClock, run_working: Run
) -> None:
    assert await run_working("{type: poke, event: go}", go_at=None) == [
        (0.0, "m", "idle --begin--> working"),
        (0.0, "m", "long cancelled"),
        (0.0, "m", "working --go--> after"),
    ]


async def test_an_action_blocked_in_its_own_scope_runs_to_its_end_and_says_so(
    autojump_clock: trio.testing.MockClock, run_working: Run, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "statemachine_engine.machine"):
        lines = await run_working("{type: nap, seconds: 3}", go_at=1.0)
    # the event at 1 s cannot cancel the nap; it cancels the action after it
    assert lines == [
        (0.0, "m", "idle --begin--> working"),
        (3.0, "m", "nap done"),
        (3.0, "m", "long cancelled"),
        (3.0, "m", "working --go--> after"),
    ]
    warned = [r.getMessage() for r in caplog.records if "cancel scope of its own" in r.getMessage()]
    assert len(warned) == 1 and "'nap'" in warned[0] and "actions.working[0]" in warned[0]
