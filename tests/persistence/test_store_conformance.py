"""The store contract (statemachine_engine.testing.check_store) against every backend: SQLite
in memory, SQLite files (written inline and by the write thread), and PostgreSQL.

Real clock (the file store works in threads, which an autojump clock would skip over);
exact virtual-time behaviour is in test_store_timing.py and test_claim_ahead.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from pg_cluster import Cluster

from statemachine_engine.persistence import SqliteStore, open_memory_store, open_store
from statemachine_engine.testing import StoreFactory, StoreOpener, check_store


def sqlite_files(folder: Path, *, inline_writes: bool) -> StoreFactory:
    names = itertools.count()

    def new_database() -> StoreOpener:
        path = folder / f"store-{next(names)}.db"
        return lambda: open_store(path, inline_writes=inline_writes)

    return new_database


@pytest.fixture
def pg_databases(pg_cluster: Cluster) -> Iterator[StoreFactory]:
    """A factory of new PostgreSQL databases on the test server, all dropped after the test."""
    made: list[str] = []

    def new_database() -> StoreOpener:
        url = pg_cluster.create_database()
        made.append(url)
        return lambda: open_store(url)

    try:
        yield new_database
    finally:
        for url in made:
            pg_cluster.drop_database(url)


async def test_sqlite_in_memory_keeps_the_store_contract() -> None:
    await check_store(lambda: open_memory_store, persistent=False)


@pytest.mark.parametrize("inline_writes", [True, False], ids=["inline", "threaded"])
async def test_sqlite_files_keep_the_store_contract(tmp_dir: Path, inline_writes: bool) -> None:
    await check_store(sqlite_files(tmp_dir, inline_writes=inline_writes))


async def test_postgresql_keeps_the_store_contract(pg_databases: StoreFactory) -> None:
    await check_store(pg_databases)


class PriorityIgnored:
    """A store that drops the priority of the jobs it adds: a broken backend."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def add_job(self, job_id: str, job_type: str, **kwargs: Any) -> Any:
        kwargs.pop("priority", None)
        return await self._store.add_job(job_id, job_type, **kwargs)


class Broken(AbstractAsyncContextManager[Any]):
    async def __aenter__(self) -> PriorityIgnored:
        self._opened = open_memory_store()
        return PriorityIgnored(await self._opened.__aenter__())

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._opened.__aexit__(*exc_info)


async def test_a_broken_store_fails_the_check_that_names_what_broke() -> None:
    with pytest.raises(AssertionError) as raised:
        await check_store(lambda: Broken, persistent=False)
    assert "check_store: check_add_and_get failed" in raised.value.__notes__
