"""Jobs claimed ahead for a worker that drains the queue.

A worker that comes back for its next job within :data:`HOLD_SECONDS` of taking the last
one is draining a backlog. For such a worker the store claims more than the one job asked
for -- 1, then 2, 4, ... up to the worker's ``prefetch`` -- in the same statement, and hands
the extra ones over from memory on the next calls: one claim (and one commit) serves many
jobs. The extra jobs are held like any claimed job (``processing``, ``claimed_by`` the
worker, leases renewed while it runs), so no other worker can take them meanwhile; but
until one is handed over its ``started_at`` is NULL and no attempt is counted (the hand-over
writes both, with the worker's next write).

A reserve goes back to the queue (``pending``, as it was) when its worker has not taken a
job for :data:`HOLD_SECONDS`, when the worker's machine stops, and when the store closes;
if the process dies, its lease lapses and the sweeper puts it back the same way (no
attempt, no backoff). A worker that finds the queue short of what it asked for, or that takes jobs
slowly, claims one at a time again.
"""

from __future__ import annotations

import math
from collections import deque

from statemachine_engine.persistence._protocol import Job

#: seconds a reserve is kept for a worker that takes no job from it
HOLD_SECONDS = 0.5

#: (worker, job_type, machine_type, lease seconds): a reserve serves only the same claim
Key = tuple[str, str | None, str | None, float]


class _Reserve:
    __slots__ = ("depth", "jobs", "last_take")

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.depth = 0
        self.last_take = -math.inf


class Reserves:
    """The reserves of one store, by claim key. All times are trio times."""

    def __init__(self) -> None:
        self._by_key: dict[Key, _Reserve] = {}

    def __len__(self) -> int:
        return sum(len(reserve.jobs) for reserve in self._by_key.values())

    def take(self, key: Key, now: float) -> Job | None:
        """The next reserved job for ``key``, or None."""
        reserve = self._by_key.get(key)
        if reserve is None or not reserve.jobs:
            return None
        reserve.last_take = now
        return reserve.jobs.popleft()

    def ahead(self, key: Key, now: float, prefetch: int) -> int:
        """How many jobs to claim beyond the one asked for (the reserve is empty)."""
        reserve = self._by_key.get(key)
        if prefetch <= 0:
            if reserve is not None:
                reserve.depth = 0
            return 0
        if reserve is None:
            reserve = self._by_key[key] = _Reserve()
        if now <= reserve.last_take + HOLD_SECONDS:
            reserve.depth = min(prefetch, max(1, reserve.depth * 2))
        else:
            reserve.depth = 0
        return reserve.depth

    def keep(self, key: Key, claimed: list[Job], *, asked: int, now: float) -> None:
        """Record a claim of ``asked`` jobs for ``key``: the first was handed over, the
        rest of ``claimed`` is kept. A short claim means the backlog is gone."""
        reserve = self._by_key.get(key)
        if reserve is None:
            if len(claimed) <= 1:
                return
            reserve = self._by_key[key] = _Reserve()
        reserve.last_take = now
        reserve.jobs.extend(claimed[1:])
        if len(claimed) < asked:
            reserve.depth = 0

    def next_expiry(self) -> float:
        """When the first reserve lapses (infinity when none holds a job)."""
        return min(
            (r.last_take + HOLD_SECONDS for r in self._by_key.values() if r.jobs),
            default=math.inf,
        )

    def expired(self, now: float) -> list[Job]:
        """Remove and return the jobs of reserves not taken from for HOLD_SECONDS."""
        lapsed: list[Job] = []
        for key, reserve in list(self._by_key.items()):
            if now >= reserve.last_take + HOLD_SECONDS:  # as next_expiry computes it
                lapsed.extend(reserve.jobs)
                del self._by_key[key]
        return lapsed

    def drop_worker(self, worker: str) -> list[Job]:
        """Remove and return the reserved jobs of ``worker`` (its machine stopped)."""
        dropped: list[Job] = []
        for key in [key for key in self._by_key if key[0] == worker]:
            dropped.extend(self._by_key.pop(key).jobs)
        return dropped

    def drop_all(self) -> list[Job]:
        dropped = [job for reserve in self._by_key.values() for job in reserve.jobs]
        self._by_key.clear()
        return dropped
