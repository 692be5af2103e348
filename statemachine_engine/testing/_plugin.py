"""pytest fixtures for testing your own machines.

Enable with ``pytest_plugins = ["statemachine_engine.testing.pytest_plugin"]`` in a
``conftest.py``. The fixtures run the real runtime in the test's trio run (use pytest-trio
with ``trio_mode = true``); with the ``autojump_clock`` fixture, timeouts take no real time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.transport import RecordingPublisher


@pytest.fixture
def machine_events() -> RecordingPublisher:
    """Every machine event the ``sm_runtime`` publishes, in order (``.events``, ``.of_type``)."""
    return RecordingPublisher()


@pytest.fixture
async def sm_runtime(machine_events: RecordingPublisher) -> AsyncIterator[Runtime]:
    """A runtime with an in-memory store whose wall clock is trio's (virtual) clock."""
    from statemachine_engine.persistence import open_store

    async with (
        open_store(":memory:", clock=trio.current_time) as store,
        open_runtime(store=store, publisher=machine_events, wall_clock=trio.current_time) as rt,
    ):
        yield rt
