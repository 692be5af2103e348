"""In-process wake-ups: workers waiting for a job, and waiters for job completions."""

from __future__ import annotations

import trio


class Wakeups:
    """One event per key, set and replaced on :meth:`notify`.

    Waiters take the event *before* looking at the database, so a notification that
    lands between their look and their wait is never lost. The key ``None`` stands for
    "any": its waiters are woken by every notification.
    """

    def __init__(self) -> None:
        self._events: dict[str | None, trio.Event] = {}

    def event(self, key: str | None = None) -> trio.Event:
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = trio.Event()
        return event

    def notify(self, key: str | None = None) -> None:
        """Wake the waiters of ``key`` and of ``None``; ``key=None`` wakes everyone."""
        if key is None:
            events = list(self._events.values())
            self._events.clear()
        else:
            found = (self._events.pop(key, None), self._events.pop(None, None))
            events = [event for event in found if event is not None]
        for event in events:
            event.set()
