"""Which claimed jobs this process renews: the leases of machines still running here.

A worker never heartbeats by hand. The store remembers every job claimed through it and
which machines of this process are registered as running; its maintenance task renews the
leases of those jobs. When a machine stops (or the process dies), its jobs are forgotten and
their leases lapse, so the sweeper of any process gives them to another worker.
"""

from __future__ import annotations


class LeaseBook:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}  # job_id -> (worker, lease seconds)
        self._live: set[str] = set()

    def __len__(self) -> int:
        return len(self._held)

    def machine_started(self, machine_name: str) -> None:
        self._live.add(machine_name)

    def machine_stopped(self, machine_name: str) -> None:
        self._live.discard(machine_name)

    def claimed(self, job_id: str, worker: str, lease_seconds: float) -> None:
        self._held[job_id] = (worker, lease_seconds)

    def holder(self, job_id: str) -> str | None:
        """The machine of this process that holds ``job_id``, if any."""
        held = self._held.get(job_id)
        return held[0] if held is not None else None

    def held_by(self, worker: str) -> list[str]:
        """The jobs ``worker`` holds, oldest claim first."""
        return [job_id for job_id, (holder, _lease) in self._held.items() if holder == worker]

    def forget(self, job_id: str) -> None:
        self._held.pop(job_id, None)

    def due(self) -> list[tuple[str, str, float]]:
        """``(job_id, worker, lease)`` to renew now; jobs of stopped machines are dropped
        here, so their leases lapse."""
        renew = []
        for job_id, (worker, lease) in list(self._held.items()):
            if worker in self._live:
                renew.append((job_id, worker, lease))
            else:
                del self._held[job_id]
        return renew

    def period(self, default_lease: float) -> float:
        """How often to renew: a third of the shortest lease held (or of the default)."""
        return min([default_lease, *(lease for _worker, lease in self._held.values())]) / 3
