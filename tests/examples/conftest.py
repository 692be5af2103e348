"""Fixtures for the example tests (the helpers are in example_support.py).

* ``example(name)`` -- an :class:`Example` working on a copy of ``examples/<name>``.
* ``events`` -- an :class:`EventTap` listening on the examples' event socket.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import trio
from example_support import EXAMPLES, EventTap, Example

from statemachine_engine.transport import EventListener


@pytest.fixture
def sockets() -> Iterator[Path]:
    """A short private folder for socket files (pytest's tmp_path can be too long)."""
    path = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def example(tmp_path: Path, sockets: Path) -> AsyncIterator[Callable[[str], Example]]:
    made: list[Example] = []

    def make(name: str) -> Example:
        root = tmp_path / name
        shutil.copytree(
            EXAMPLES / name,
            root,
            ignore=shutil.ignore_patterns("__pycache__", "data", "logs", "*.db"),
        )
        made.append(Example(name, root, sockets))
        return made[-1]

    try:
        yield make
    finally:
        for ex in made:
            await ex.stop_all()


@pytest.fixture
async def events(sockets: Path, nursery: trio.Nursery) -> EventTap:
    """Listens on ``<sockets>/events.sock``, the event socket of every :class:`Example`."""
    tap = EventTap()
    await nursery.start(EventListener(tap, str(sockets / "events.sock")).run)
    return tap
