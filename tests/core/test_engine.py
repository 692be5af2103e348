"""The published package's entry point, StateMachineEngine, run by trio."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from statemachine_engine.core.engine import StateMachineEngine
from statemachine_engine.errors import ConfigError
from statemachine_engine.transport import RecordingPublisher

WORKER = """\
name: "My Worker"
metadata: {machine_name: my_worker}
initial_state: waiting
transitions:
  - {from: waiting, to: processing, event: new_job}
  - {from: processing, to: completed, event: timeout(2)}
actions:
  processing:
    - {type: set_context, key: job, value: "{event_data.payload.id}"}
"""


@pytest.fixture
def worker_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "worker.yaml"
    path.write_text(WORKER)
    return path


def test_the_readme_entry_point_runs_under_trio_run(worker_yaml: Path) -> None:
    finished: list[str] = []

    async def main() -> None:
        engine = StateMachineEngine(machine_name="my_worker")
        await engine.load_config(str(worker_yaml))
        async with trio.open_nursery() as nursery:

            async def feed() -> None:
                while not engine.is_running:
                    await trio.sleep(0.01)
                await engine.send_event("new_job", {"id": 7})

            nursery.start_soon(feed)
            finished.append(await engine.execute_state_machine())
        assert engine.context["job"] == 7

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert finished == ["completed"]


async def test_load_config_names_the_machine_from_metadata(worker_yaml: Path) -> None:
    engine = StateMachineEngine()
    spec = await engine.load_config(worker_yaml)
    assert engine.config is spec
    assert engine.machine_name == "my_worker"
    assert engine.current_state == "waiting"
    assert engine.is_running is False
    assert engine.context == {}


async def test_an_explicit_machine_name_wins(worker_yaml: Path) -> None:
    engine = StateMachineEngine(machine_name="other")
    await engine.load_config(worker_yaml)
    assert engine.machine_name == "other"


async def test_load_config_reports_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("states: [a]\n")
    with pytest.raises(ConfigError, match="initial_state is missing"):
        await StateMachineEngine().load_config(bad)


async def test_execute_without_config_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"No configuration loaded; call load_config\(\) first"):
        await StateMachineEngine().execute_state_machine()


async def test_send_event_before_running_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="the machine is not running"):
        await StateMachineEngine().send_event("go")


async def test_setting_is_running_false_stops_the_machine(
    worker_yaml: Path, autojump_clock
) -> None:
    publisher = RecordingPublisher()
    engine = StateMachineEngine(publisher=publisher)
    await engine.load_config(worker_yaml)
    async with trio.open_nursery() as nursery:

        async def stop_later() -> None:
            await trio.sleep(5)
            assert engine.is_running
            engine.is_running = False

        nursery.start_soon(stop_later)
        state = await engine.execute_state_machine({"given": 1})
    assert state == "waiting"
    assert trio.current_time() == 5.0
    assert engine.is_running is False
    assert engine.context["given"] == 1
    assert [e.type for e in publisher.events] == ["machine_registered", "machine_terminated"]


async def test_is_running_false_before_start_stops_at_once(
    worker_yaml: Path, autojump_clock
) -> None:
    engine = StateMachineEngine()
    await engine.load_config(worker_yaml)
    engine.is_running = False
    assert await engine.execute_state_machine() == "waiting"
    assert trio.current_time() == 0.0


async def test_runs_to_a_final_state(worker_yaml: Path, autojump_clock) -> None:
    engine = StateMachineEngine()
    await engine.load_config(worker_yaml)
    async with trio.open_nursery() as nursery:

        async def feed() -> None:
            await trio.sleep(1)
            await engine.send_event("new_job", {"id": "j1"})

        nursery.start_soon(feed)
        assert await engine.execute_state_machine() == "completed"
    assert trio.current_time() == 3.0
    assert engine.current_state == "completed"
