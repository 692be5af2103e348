"""examples/context_map: payload fields promoted to durable context keys, through a real
process and through ``statemachine simulate``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from example_support import EXAMPLES, EventTap, Example

from statemachine_engine.testing import simulate

pytestmark = pytest.mark.slow

MACHINE = "voice_call"
CALLER = "+358 40 123 4567"


async def test_promoted_keys_survive_later_events_in_a_real_process(
    example: Callable[[str], Example], events: EventTap
) -> None:
    ex = example("context_map")
    call = await ex.start("statemachine", "config/voice_call.yaml", *ex.socket_flags(), log=MACHINE)
    await ex.wait_registered(MACHINE)

    steps = [
        ("incoming_call", {"call_sid": "CA7", "caller": CALLER}, "greeting"),
        ("speak_done", {}, "listening"),
        ("transcribed", {"user_utterance": "Cancel my booking", "confidence": 0.9}, "answering"),
        ("speak_done", {}, "listening"),  # through recording
        # no user_utterance this time: the promoted value is kept, confidence replaced
        ("transcribed", {"confidence": 0.4}, "answering"),
        ("speak_done", {}, "listening"),
    ]
    for event, payload, state in steps:
        mark = len(events.events)
        await ex.send(MACHINE, event, payload)
        await events.wait_state(MACHINE, state, after=mark)
    await ex.send(MACHINE, "hangup")
    assert await ex.wait_exit(call) == 0
    await events.wait_terminated(MACHINE)

    after = f"After speak_done: 'Cancel my booking' from {CALLER} on call CA7"
    assert events.activity(MACHINE) == [
        f"Call CA7 from {CALLER}: saying hello",
        "Heard 'Cancel my booking' (0.9): answering",
        after,
        "Heard 'Cancel my booking' (0.4): answering",
        after,
        f'Call CA7 with {CALLER} ended; transcript: ["Cancel my booking", "Cancel my booking"]',
    ]


async def test_simulated_call(example: Callable[[str], Example]) -> None:
    ex = example("context_map")
    out = await ex.run(
        "statemachine",
        "simulate",
        "config/voice_call.yaml",
        "--events",
        "events.yaml",
        "--format",
        "json",
    )
    trace = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [(e["t"], e.get("event"), e.get("to", e.get("final_state"))) for e in trace] == [
        (1.0, "incoming_call", "greeting"),
        (3.0, "speak_done", "listening"),
        (6.0, "transcribed", "answering"),
        (8.0, "speak_done", "recording"),
        (8.0, "recorded", "listening"),
        (12.0, "transcribed", "answering"),
        (14.0, "speak_done", "recording"),
        (14.0, "recorded", "listening"),
        (20.0, "hangup", "ended"),
        (20.0, None, "ended"),
    ]


def test_simulated_call_keeps_the_promoted_keys() -> None:
    """The same simulation through the library, which also shows what the machine logged."""
    folder = EXAMPLES / "context_map"
    result = simulate([folder / "config/voice_call.yaml"], folder / "events.yaml")
    logged = [
        (e.timestamp, e.payload["message"]) for e in result.events if e.type == "activity_log"
    ]
    assert logged == [
        (1.0, f"Call CA42 from {CALLER}: saying hello"),
        (6.0, "Heard 'I need a new appointment' (0.93): answering"),
        (8.0, f"After speak_done: 'I need a new appointment' from {CALLER} on call CA42"),
        (12.0, "Heard 'Tuesday morning' (0.88): answering"),
        (14.0, f"After speak_done: 'Tuesday morning' from {CALLER} on call CA42"),
        (
            20.0,
            f"Call CA42 with {CALLER} ended; transcript: "
            '["I need a new appointment", "Tuesday morning"]',
        ),
    ]
