"""The store check_store expects, and the shapes of its checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from statemachine_engine.persistence import Job, Store


class CheckedStore(Store, Protocol):
    """A Store with the reads check_store looks through (the statemachine-db and monitor
    reads every backend provides)."""

    async def list_jobs(
        self,
        *,
        status: str | None = None,
        job_type: str | None = None,
        machine_type: str | None = None,
        limit: int | None = 50,
    ) -> Sequence[Job]: ...

    async def count_jobs(self, *, job_type: str | None = None) -> Mapping[str, int]: ...

    async def transitions(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]: ...

    async def errors(
        self, *, machine: str | None = None, since: float | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]: ...

    async def events(
        self, *, target: str | None = None, status: str | None = None, limit: int | None = 100
    ) -> Sequence[Mapping[str, Any]]: ...


#: opens a store on one database; each call a new store on the same data
StoreOpener = Callable[[], AbstractAsyncContextManager[CheckedStore]]
#: makes a new empty database and returns its opener
StoreFactory = Callable[[], StoreOpener]
Check = Callable[[StoreOpener], Awaitable[None]]

#: every check waits at most this long (seconds) for the store
WAIT = 20.0

# Timestamps the checks record: fixed values, so that they read back exactly.
T0 = 1_700_000_000.0
