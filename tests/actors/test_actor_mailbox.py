"""The mailbox under pressure: senders waiting on a full mailbox, an idle machine parked on an
empty one, and the one Message a ref keeps per plain event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio
import trio.testing

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import MachineSpec, load_config_text

SpecOf = Callable[[str], MachineSpec]

FLIP = """
initial_state: a
transitions:
  - {from: a, to: b, event: flip}
  - {from: b, to: a, event: flip}
"""


class Note(BaseAction):
    """Appends the payload of the event that entered the state to ``context["notes"]``."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        context.setdefault("notes", []).append(context["event_data"]["payload"])
        return None


async def test_senders_waiting_on_a_full_mailbox_all_get_through_in_their_order() -> None:
    spec = load_config_text(FLIP + "actions:\n  a: [{type: note}]\n  b: [{type: note}]\n")
    async with open_runtime(actions={"note": Note}) as rt:
        ref = await rt.spawn(spec, name="m", mailbox_capacity=2)

        async def sender(who: int) -> None:
            for i in range(50):
                await ref.send("flip", {"who": who, "i": i})

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                for who in range(5):
                    nursery.start_soon(sender, who)
            await trio.testing.wait_all_tasks_blocked()
        stats = ref.statistics()
        notes = ref.context["notes"]
    assert (stats.transitions, stats.events_received, stats.mailbox_depth) == (250, 250, 0)
    for who in range(5):  # each sender's events arrive in the order it sent them
        assert [n["i"] for n in notes if n["who"] == who] == list(range(50))


async def test_a_parked_machine_is_woken_by_a_send_from_a_task_that_was_waiting() -> None:
    async with open_runtime() as rt:
        ref = await rt.spawn(load_config_text(FLIP), name="m", mailbox_capacity=1)
        await trio.testing.wait_all_tasks_blocked()
        assert rt.machines["m"].waiting_idle
        await ref.send("flip")
        await trio.testing.wait_all_tasks_blocked()
        assert (ref.state, rt.machines["m"].waiting_idle) == ("b", True)


class Scribble(BaseAction):
    """Writes into the event_data it was given, as a careless action might."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        context["event_data"]["scribbled"] = True
        return None


async def test_a_plain_event_gives_each_transition_a_fresh_event_data() -> None:
    spec = load_config_text(FLIP + "actions:\n  b: [{type: scribble}]\n")
    async with open_runtime(actions={"scribble": Scribble}) as rt:
        ref = await rt.spawn(spec, name="m")
        await ref.send("flip")  # to b: the action writes into event_data
        await trio.testing.wait_all_tasks_blocked()
        assert ref.context["event_data"]["scribbled"] is True
        await ref.send("flip")  # the same event again: its event_data is new
        await trio.testing.wait_all_tasks_blocked()
        assert ref.state == "a"
        assert "scribbled" not in ref.context["event_data"]
        assert ref.context["event_data"]["type"] == "flip"
