"""One timer task per runtime for the deadlines of idle machines.

An idle machine with a ``timeout(N)`` waits on its mailbox only; its deadline sits in this
queue. When it passes, the task puts a wake-up token in the machine's mailbox, and the
machine, seeing its deadline reached, fires the timeout. A cancel scope per wait would cost
far more than a heap entry when thousands of machines poll on timeouts; and a batch of
deadlines that fall together is served by one wake-up of this task.
"""

from __future__ import annotations

import heapq
import math
from typing import Protocol

import trio


class Sleeper(Protocol):
    """What the queue wakes: a machine, told which of its state entries is due."""

    def deadline_passed(self, entry: int) -> None: ...


class TimerQueue:
    """The deadlines of idle machines, served by one task."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        self._heap: list[tuple[float, int, Sleeper, int]] = []
        self._seq = 0
        self._running = False
        self._target = math.inf
        self._sleep: trio.CancelScope | None = None

    def arm(self, deadline: float, sleeper: Sleeper, entry: int) -> None:
        """Wake ``sleeper`` at ``deadline`` unless it has left state entry number ``entry``."""
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, sleeper, entry))
        if not self._running:
            self._running = True
            self._nursery.start_soon(self._run)
        elif deadline < self._target and self._sleep is not None:
            self._sleep.cancel()

    async def _run(self) -> None:
        heap = self._heap
        while True:
            now = trio.current_time()
            while heap and heap[0][0] <= now:
                _, _, sleeper, entry = heapq.heappop(heap)
                sleeper.deadline_passed(entry)
            self._target = heap[0][0] if heap else math.inf
            with trio.CancelScope(deadline=self._target) as self._sleep:
                await trio.sleep_forever()
            self._sleep = None
