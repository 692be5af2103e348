"""The machine context, interpolation in actions and context_map (points 10, 11 and 12)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import trio
import trio.testing

from statemachine_engine.actions import BaseAction
from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.transport import Message

SpecOf = Callable[[str], MachineSpec]


async def test_context_keys_set_by_the_machine(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: working, event: go}\n"),
        name="w1",
        context={"given": 1},
    )
    assert ref.context == {
        "given": 1,
        "machine_name": "w1",
        "current_state": "waiting",
        "event_data": {},
    }
    await ref.send("go", {"a": 1}, job_id="j9", source="ctl")
    await ref.wait_state("working")
    assert ref.context["current_state"] == "working"
    assert ref.context["event_data"] == {
        "type": "go",
        "payload": {"a": 1},
        "job_id": "j9",
        "source": "ctl",
        "target": "w1",
    }


async def test_spawn_copies_the_initial_context(runtime: Runtime, spec: SpecOf) -> None:
    given = {"a": 1}
    ref = await runtime.spawn(spec("name: x\n"), context=given)
    ref.context["a"] = 2
    assert given == {"a": 1}


async def test_event_data_is_seen_by_entry_actions_with_types_kept(
    runtime: Runtime, spec: SpecOf
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: working, event: go}
actions:
  working:
    - {type: keep, value: "{event_data.payload}"}
    - {type: keep, value: "{event_data.payload.n}"}
    - {type: keep, value: "{event_data.payload.flag}"}
    - {type: keep, value: "n={event_data.payload.n} items={event_data.payload.items}"}
    - {type: keep, value: "{event_data.payload.items|length}"}
    - {type: keep, value: "{event_data.payload.missing|default:none given}"}
    - {type: keep, value: "{event_data.payload.missing}"}
    - {type: keep, params: {value: "{machine_name} in {current_state} from {event_data.source}"}}
"""
        ),
        name="w",
    )
    payload = {"n": 0, "flag": False, "items": ["a", "b"]}
    await ref.send("go", payload, source="tester")
    await trio.testing.wait_all_tasks_blocked()
    kept = ref.context["kept"]
    assert kept == [
        payload,
        0,
        False,
        'n=0 items=["a", "b"]',
        2,
        "none given",
        "{event_data.payload.missing}",
        "w in working from tester",
    ]
    assert type(kept[1]) is int and type(kept[2]) is bool


async def test_a_json_string_payload_is_decoded_once(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: working, event: go}
actions:
  working: [{type: keep, value: "{event_data.payload.inner}"}]
"""
        )
    )
    inner = json.dumps({"deep": 1})
    await ref.send("go", json.dumps({"inner": inner}))
    await trio.testing.wait_all_tasks_blocked()
    assert ref.context["event_data"]["payload"] == {"inner": inner}
    assert ref.context["kept"] == [inner]  # the nested JSON string stays a string


async def test_a_plain_string_payload_stays_a_string(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(spec("transitions:\n  - {from: waiting, to: w, event: go}\n"))
    await ref.send("go", "{not json")
    await ref.wait_state("w")
    assert ref.context["event_data"]["payload"] == "{not json"


async def test_extra_message_fields_reach_event_data(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(
        spec("transitions:\n  - {from: waiting, to: w, event: go}\n"), name="m"
    )
    message = Message.from_dict({"type": "go", "target": "m", "payload": {}, "priority": 3})
    await runtime.deliver(message)
    await ref.wait_state("w")
    assert ref.context["event_data"]["priority"] == 3


async def test_action_and_timeout_events_leave_event_data_alone(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
transitions:
  - {from: waiting, to: a, event: go}
  - {from: a, to: b, event: next}
  - {from: b, to: c, event: timeout(1)}
actions:
  a: [{type: mark, label: a, event: next}]
"""
        )
    )
    await ref.send("go", {"k": 1})
    await ref.wait_state("c")
    assert ref.context["event_data"]["type"] == "go"


CONTEXT_MAP = """
events:
  transcribed:
    context_map:
      user_utterance: payload.user_utterance
      caller: payload.call.caller
      flag: payload.flag
  speak_done: {}
transitions:
  - {from: waiting, to: classifying, event: transcribed}
  - {from: classifying, to: speaking, event: classified}
  - {from: speaking, to: waiting, event: speak_done}
actions:
  classifying:
    - {type: keep, value: "heard {user_utterance} from {caller}"}
    - {type: mark, label: classify, event: classified}
  speaking:
    - {type: keep, value: "{user_utterance}"}
"""


async def test_context_map_promotes_before_actions_and_persists(
    runtime: Runtime, spec: SpecOf
) -> None:
    ref = await runtime.spawn(spec(CONTEXT_MAP), context={"caller": "unknown"})
    await ref.send(
        "transcribed", {"user_utterance": "hello", "call": {"caller": "+358"}, "flag": False}
    )
    await trio.testing.wait_all_tasks_blocked()
    assert ref.state == "speaking"
    assert ref.context["kept"] == ["heard hello from +358", "hello"]
    assert ref.context["flag"] is False  # falsy values are promoted; only null is skipped
    await ref.send("speak_done", {"user_utterance": "not promoted here"})
    await ref.wait_state("waiting")
    assert ref.context["user_utterance"] == "hello"  # survives later events
    assert ref.context["event_data"]["type"] == "speak_done"


async def test_context_map_skips_missing_and_null_values(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(spec(CONTEXT_MAP), context={"caller": "kept", "flag": "kept"})
    await ref.send("transcribed", {"user_utterance": None, "call": "not a mapping"})
    await trio.testing.wait_all_tasks_blocked()
    assert "user_utterance" not in ref.context
    assert (ref.context["caller"], ref.context["flag"]) == ("kept", "kept")
    assert ref.context["kept"] == ["heard {user_utterance} from kept", "{user_utterance}"]


async def test_context_map_overwrites_on_each_firing(runtime: Runtime, spec: SpecOf) -> None:
    ref = await runtime.spawn(spec(CONTEXT_MAP))
    for word in ("one", "two"):
        await ref.send("transcribed", {"user_utterance": word})
        await ref.wait_state("speaking")
        await ref.send("speak_done")
        await ref.wait_state("waiting")
    assert ref.context["user_utterance"] == "two"


async def test_context_map_applies_to_a_held_event_when_it_fires(
    runtime: Runtime, spec: SpecOf, autojump_clock
) -> None:
    ref = await runtime.spawn(
        spec(
            """
events:
  answer:
    context_map: {answer: payload.value}
transitions:
  - {from: waiting, to: asked, event: asked}
  - {from: asked, to: done, event: answer}
actions:
  waiting: [{type: wait, seconds: 1, event: asked}]
  done: [{type: keep, value: "{answer}"}]
"""
        )
    )
    await ref.send("answer", {"value": 42})  # held: 'answer' fires nothing in 'waiting'
    await ref.wait_state("done")
    await trio.testing.wait_all_tasks_blocked()
    assert ref.context["kept"] == [42]


class ScribbleAction(BaseAction):
    """Notes the ``note`` it was given, then overwrites it in its own mapping."""

    async def execute(self, context: dict[str, Any]) -> str | None:
        context.setdefault("notes", []).append(self.config["note"])
        self.config["note"] = "scribbled"
        return None


async def test_each_run_of_an_action_gets_its_mapping_as_written(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """A mapping without placeholders is worked out once per spec, and still every run
    (of this machine and of another one of the same spec) starts from the YAML's."""
    actions = {"scribble": ScribbleAction}
    loop = load_config_text(
        "initial_state: a\n"
        "transitions:\n  - {from: a, to: a, event: again}\n"
        "actions:\n  a: [{type: scribble, note: plain, n: 1, flag: true}]\n",
        known_actions=actions,
    )
    async with open_runtime(actions=actions) as runtime:
        first = await runtime.spawn(loop, name="first")
        second = await runtime.spawn(loop, name="second")
        for _ in range(2):
            await first.send("again")
        await second.send("again")
        while len(first.context.get("notes", [])) < 3 or len(second.context["notes"]) < 2:
            await trio.sleep(0.1)
    assert first.context["notes"] == ["plain"] * 3
    assert second.context["notes"] == ["plain"] * 2
    assert loop.actions["a"][0].config["note"] == "plain"
