"""The ``log`` action (and its ``activity_log`` alias)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
import trio

from statemachine_engine.actions.builtin.log_action import LOGGER_NAME, FloodGuard, LogAction

if TYPE_CHECKING:
    from conftest import FakeHost, RunAction


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]


async def test_writes_machine_and_message_and_publishes_activity(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    event = await run_action({"type": "log", "message": "job {job_id} done"}, {"job_id": "j1"})
    assert event is None
    assert lines(caplog) == [(logging.INFO, "[tester] job j1 done")]
    assert fake_host.activities == [{"message": "job j1 done", "level": "info", "job_id": "j1"}]
    assert fake_host.published == [
        ("activity_log", {"message": "job j1 done", "level": "info", "job_id": "j1"})
    ]


async def test_defaults(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    assert await run_action({"type": "log"}) is None
    assert lines(caplog) == [(logging.INFO, "[tester] No message")]
    assert fake_host.activities == [{"message": "No message", "level": "info"}]


@pytest.mark.parametrize(
    ("level", "python_level", "published"),
    [
        ("debug", logging.DEBUG, "debug"),
        ("info", logging.INFO, "info"),
        ("warning", logging.WARNING, "warning"),
        ("ERROR", logging.ERROR, "error"),
        ("success", logging.INFO, "success"),
        ("loud", logging.INFO, "info"),
        (None, logging.INFO, "info"),
    ],
)
async def test_levels(
    run_action: RunAction,
    fake_host: FakeHost,
    caplog: pytest.LogCaptureFixture,
    level: str | None,
    python_level: int,
    published: str,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    await run_action({"type": "log", "message": "m", "level": level})
    assert lines(caplog) == [(python_level, "[tester] m")]
    assert fake_host.activities[0]["level"] == published


async def test_success_event_and_params_form(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    config = {"type": "log", "params": {"message": "hi", "level": "warning", "success": "next"}}
    assert await run_action(config) == "next"
    assert lines(caplog) == [(logging.WARNING, "[tester] hi")]


async def test_activity_log_alias_is_the_log_action(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    assert await run_action({"type": "activity_log", "message": "x", "success": "ok"}) == "ok"
    assert fake_host.activities == [{"message": "x", "level": "info"}]


async def test_non_string_message_is_written_as_json(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    await run_action(
        {"type": "log", "message": "{event_data.payload}"}, {"event_data": {"payload": {"a": 1}}}
    )
    assert fake_host.activities[0]["message"] == '{"a": 1}'


async def test_works_without_a_host(caplog: pytest.LogCaptureFixture) -> None:
    # actions written for the published package call execute() without any runtime
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    action = LogAction({"type": "log", "message": "alone"})
    assert await action.execute({"machine_name": "solo"}) is None
    assert lines(caplog) == [(logging.INFO, "[solo] alone")]


async def test_a_flood_is_summarised_but_every_activity_is_published(
    run_action: RunAction,
    fake_host: FakeHost,
    caplog: pytest.LogCaptureFixture,
    autojump_clock: trio.testing.MockClock,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    for _ in range(100):
        await run_action({"type": "log", "message": "polling"})
    await run_action({"type": "log", "message": "other"})
    assert lines(caplog) == [(logging.INFO, "[tester] polling")] * 5 + [
        (logging.INFO, "[tester] other")
    ]
    await trio.sleep(1.5)
    await run_action({"type": "log", "message": "polling"})
    assert lines(caplog)[-1] == (
        logging.INFO,
        "[tester] polling (repeated 96 times in the last 1.5 s)",
    )
    await trio.sleep(1.0)
    await run_action({"type": "log", "message": "polling"})
    assert lines(caplog)[-1] == (logging.INFO, "[tester] polling")
    assert len(fake_host.activities) == 103


async def test_the_same_text_from_two_machines_is_not_merged(
    run_action: RunAction, make_host: type[FakeHost], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER_NAME)
    for name in ("a", "b") * 6:
        await run_action({"type": "log", "message": "tick"}, host=make_host(machine_name=name))
    assert sorted(message for _, message in lines(caplog)) == ["[a] tick"] * 5 + ["[b] tick"] * 5


async def test_disabled_level_writes_nothing(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER_NAME)
    await run_action({"type": "log", "message": "quiet", "level": "debug"})
    assert lines(caplog) == []
    assert fake_host.activities == [{"message": "quiet", "level": "debug"}]


def test_flood_guard_window_and_summary() -> None:
    guard = FloodGuard(interval=1.0, burst=2)
    key = ("m", "info", "x")
    assert guard.admit(key, 0.0) == (True, 0, 0.0)
    assert guard.admit(key, 0.1) == (True, 0, 0.0)
    assert guard.admit(key, 0.2) == (False, 0, 0.0)
    assert guard.admit(key, 0.3) == (False, 0, 0.0)
    assert guard.admit(key, 1.0) == (True, 3, 1.0)
    assert guard.admit(key, 2.5) == (True, 0, 0.0)


def test_flood_guard_bounds_its_memory() -> None:
    guard = FloodGuard(max_keys=3)
    for n in range(10):
        guard.admit(("m", "info", str(n)), 0.0)
    assert len(guard._seen) == 3


async def test_activity_log_moves_on_with_continue_and_writes_the_published_row() -> None:
    from statemachine_engine.actors import open_runtime
    from statemachine_engine.config import load_config_text
    from statemachine_engine.persistence import open_memory_store

    config = """
initial_state: start
states: [start, next, done]
final_states: [done]
events: [continue, go]
transitions:
  - {from: start, to: next, event: continue}
  - {from: next, to: done, event: go}
actions:
  start:
    - {type: activity_log, message: "starting {job_id}", level: warning}
  next:
    - {type: log, message: "plain log returns nothing"}
"""
    async with open_memory_store() as store, open_runtime(store=store) as runtime:
        ref = await runtime.spawn(load_config_text(config), name="m", context={"job_id": "j9"})
        with trio.fail_after(5):
            await ref.wait_state("next")  # activity_log's default 'continue' moved it on
        await trio.sleep(0.05)
        assert ref.state == "next"  # log returned nothing: it stays
        await store.flush()
        rows = await store.events(target="ui")
    assert [(r["source_machine"], r["event_type"], r["job_id"], r["payload"]) for r in rows] == [
        ("m", "activity_log", "j9", {"message": "starting j9", "level": "warning", "machine": "m"})
    ]
