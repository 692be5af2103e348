"""Fixtures for store tests.

* ``store`` -- an open SqliteStore, parametrised over the in-memory and the file-backed
  database (the conformance suite runs every test against both). Its wall clock follows
  trio's clock (``EPOCH + trio.current_time()``), so virtual-time tests see virtual
  timestamps.
* ``db_path`` -- a database path in a fresh short directory under /tmp.
* ``epoch`` -- the wall-clock time the store's clock reads at trio time 0.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio

from statemachine_engine.persistence import SqliteStore, open_store

EPOCH = 1_700_000_000.0


def virtual_clock() -> float:
    return EPOCH + trio.current_time()


@pytest.fixture
def epoch() -> float:
    return EPOCH


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def db_path(tmp_dir: Path) -> Path:
    return tmp_dir / "data" / "pipeline.db"


@pytest.fixture(params=["memory", "file", "file-threaded"])
def store_kind(request: pytest.FixtureRequest) -> str:
    """memory; a file written inline on the trio thread; a file written by its thread."""
    kind: str = request.param
    return kind


@pytest.fixture
def store_path(store_kind: str, tmp_dir: Path) -> str:
    return ":memory:" if store_kind == "memory" else str(tmp_dir / "store.db")


@pytest.fixture
async def store(store_path: str, store_kind: str) -> AsyncIterator[SqliteStore]:
    async with open_store(
        store_path, clock=virtual_clock, inline_writes=store_kind != "file-threaded"
    ) as opened:
        yield opened
