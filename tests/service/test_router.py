"""The control socket's router of a runtime: by target, else to the primary machine."""

from __future__ import annotations

import pytest

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
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
