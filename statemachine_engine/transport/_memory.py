"""In-process publishers: a fan-out hub with bounded subscriber queues, and a recorder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import trio

from statemachine_engine.transport._protocol import MachineEvent, Publisher


class Subscription:
    """One subscriber's bounded queue. ``dropped`` counts events it was too slow to take."""

    def __init__(self, capacity: int) -> None:
        self.send, self.receive = trio.open_memory_channel[MachineEvent](capacity)
        self.dropped = 0

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> MachineEvent:
        try:
            return await self.receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


class EventBus:
    """Fans machine events out to subscribers; a full subscriber queue drops, never blocks."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self.published = 0

    def publish(self, event: MachineEvent) -> None:
        self.published += 1
        for sub in self._subscribers:
            try:
                sub.send.send_nowait(event)
            except trio.WouldBlock:
                sub.dropped += 1
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass

    @contextmanager
    def subscribe(self, capacity: int = 10_000) -> Iterator[Subscription]:
        sub = Subscription(capacity)
        self._subscribers.append(sub)
        try:
            yield sub
        finally:
            self._subscribers.remove(sub)
            sub.send.close()


class FanoutPublisher:
    """Publishes to several publishers in order."""

    def __init__(self, publishers: Sequence[Publisher]) -> None:
        self.publishers = list(publishers)

    def publish(self, event: MachineEvent) -> None:
        for publisher in self.publishers:
            publisher.publish(event)


class RecordingPublisher:
    """Keeps every event in a list (tests and simulation)."""

    def __init__(self) -> None:
        self.events: list[MachineEvent] = []

    def publish(self, event: MachineEvent) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[MachineEvent]:
        return [e for e in self.events if e.type == kind]
