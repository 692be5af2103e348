"""The control socket's router of a runtime: by target, else to the primary machine."""

from __future__ import annotations

import pytest
import trio

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.errors import ActorStopped
from statemachine_engine.persistence import open_memory_store
from statemachine_engine.service import make_router
from statemachine_engine.transport import Message

IDLE = "initial_state: idle\ntransitions:\n  - {from: idle, to: busy, event: go}\n"


async def test_a_project_runtime_asks_for_a_target_and_names_its_machines() -> None:
    async with open_memory_store() as store, open_runtime(store=store) as runtime:
        for name in ("worker_2", "controller", "worker_1"):
            await runtime.spawn(load_config_text(IDLE), name=name)
        route = make_router(runtime, None, store)
        with pytest.raises(ValueError) as refused:
            await route(Message(type="go"))
        assert str(refused.value) == (
            "this runtime runs a project of several machines: the message needs a 'target' "
            "(controller, worker_1, worker_2)"
        )
        await route(Message(type="go", target="worker_1"))
        await runtime.ref("worker_1").wait_state("busy")
        await runtime.stop()


async def test_a_machine_runtime_routes_an_untargeted_message_to_its_machine() -> None:
    async with open_memory_store() as store, open_runtime(store=store) as runtime:
        ref = await runtime.spawn(load_config_text(IDLE), name="solo")
        await make_router(runtime, "solo", store)(Message(type="go"))
        await ref.wait_state("busy")
        await runtime.stop()


async def test_a_stopped_machine_is_not_running_and_an_unknown_name_is_unknown() -> None:
    final = "initial_state: idle\nfinal_states: [done]\ntransitions:\n"
    final += "  - {from: idle, to: done, event: go}\n"
    async with open_memory_store() as store, open_runtime(store=store) as runtime:
        ref = await runtime.spawn(load_config_text(final), name="fin")
        route = make_router(runtime, None, store)
        await route(Message(type="go", target="fin"))
        assert await ref.wait_stopped() == "stopped"
        # the control server answers these as "machine 'fin' is not running (stopped)" and
        # "unknown target 'nobody'"
        with pytest.raises(ActorStopped) as stopped:
            await route(Message(type="go", target="fin"))
        assert str(stopped.value) == "machine 'fin' is not running (stopped)"
        with pytest.raises(KeyError):
            await route(Message(type="go", target="nobody"))


async def test_an_event_an_idle_machine_will_not_handle_is_acknowledged_as_unhandled() -> None:
    from statemachine_engine.transport import RecordingPublisher

    recorder = RecordingPublisher()
    async with (
        open_memory_store() as store,
        open_runtime(store=store, publisher=recorder) as runtime,
    ):
        ref = await runtime.spawn(load_config_text(IDLE), name="solo")
        route = make_router(runtime, "solo", store)
        await trio.sleep(0.01)  # the machine waits idle
        assert await route(Message(type="gret")) == {"handled": False, "state": "idle"}
        assert await route(Message(type="go")) is None  # it fires
        await ref.wait_state("busy")
        await store.flush()
        audited = await store.events(target="solo")
        assert [(e["event_type"], e["status"]) for e in audited] == [("gret", "unhandled")]
        warnings = [e.payload for e in recorder.events if e.type == "activity_log"]
        assert warnings[0]["message"] == "event 'gret' fired nothing in state 'idle'; dropped"
        assert runtime.machine_statistics("solo").events_dropped == 1
        await runtime.stop()
