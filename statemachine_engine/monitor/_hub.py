"""The monitor hub: machine events in, the machine table kept, each event relayed to subscribers.

Events come in as :class:`MachineEvent` objects (the hub is a
:class:`~statemachine_engine.transport.Publisher`, so a runtime can publish into it in-process)
or as raw JSON lines from the event socket (:meth:`MonitorHub.feed_line`). Every event is
applied to the machine table, serialised once, and relayed through the fan-out, which never
waits for a slow subscriber (one that falls a whole backlog behind gets a fresh snapshot
instead of what it missed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from statemachine_engine import _strict_json
from statemachine_engine._thinning import worth_logging
from statemachine_engine.monitor._fanout import Fanout, Subscriber, SubscriberClosed
from statemachine_engine.monitor._machine_table import MachineTable, Registry
from statemachine_engine.monitor._outgoing import Outgoing
from statemachine_engine.transport import MachineEvent

# Outgoing, Registry, Subscriber and SubscriberClosed are re-exported: the hub is where the
# rest of the monitor package reads them from.
__all__ = ["HubStats", "MonitorHub", "Outgoing", "Registry", "Subscriber", "SubscriberClosed"]

logger = logging.getLogger(__name__)


@attrs.frozen
class HubStats:
    """Counters for ``/health`` and the benchmarks."""

    clients: int
    machines: int
    events_relayed: int
    dropped: int
    invalid: int
    slow_disconnects: int
    last_event_time: float | None
    #: times a subscriber fell a whole backlog behind and was sent a fresh snapshot
    resyncs: int = 0


class MonitorHub:
    """Keeps every machine's latest state and relays events to subscribers.

    ``capacity`` bounds each subscriber's queue (in events). ``store`` seeds the machine
    table from its registry rows on :meth:`seed`.
    ``wall_time`` stamps snapshots and events that carry no timestamp.
    """

    def __init__(
        self,
        *,
        store: Registry | None = None,
        capacity: int = 1000,
        wall_time: Callable[[], float] = time.time,
    ) -> None:
        self._fanout = Fanout(capacity, snapshot=lambda: Outgoing.of(self.snapshot()))
        self._table = MachineTable()
        self.capacity = capacity
        self.store = store
        self.wall_time = wall_time
        self.events_relayed = 0
        self.invalid = 0
        self.last_event_time: float | None = None
        self._next_id = 0
        self._invalid_sources: list[Callable[[], int]] = []

    @property
    def machines(self) -> dict[str, dict[str, Any]]:
        """Machine name -> its latest snapshot row."""
        return self._table.rows

    @property
    def seed_error(self) -> str | None:
        """Why the registry could not be read by :meth:`seed`, if it could not."""
        return self._table.seed_error

    # -- input -----------------------------------------------------------------------------

    async def seed(self) -> None:
        """Fill the machine table from the store's registry (rows already known win)."""
        if self.store is not None:
            await self._table.seed(self.store)

    def publish(self, event: MachineEvent) -> None:
        """Apply ``event`` to the machine table and relay it. Never blocks, never raises."""
        if not event.timestamp:
            event = attrs.evolve(event, timestamp=self.wall_time())
        self._table.apply(event)
        if self._fanout.subscribers:
            # encoded only for someone: a monitor with no browser open (the common case
            # while a worker drains a backlog) keeps just the table up to date
            self._fanout.relay(Outgoing.of(event.to_json()))
        self.events_relayed += 1
        self.last_event_time = event.timestamp

    def feed_line(self, line: bytes | str) -> bool:
        """Validate one line from the event socket and publish it; an invalid line is
        counted and dropped, never forwarded. Returns whether the line was an event."""
        try:
            data = _strict_json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("an event must be a JSON object")
            event = MachineEvent.from_dict(data)
        except (ValueError, UnicodeDecodeError) as exc:
            self.invalid += 1
            if worth_logging(self.invalid):
                logger.warning("dropped invalid event line (%d so far): %s", self.invalid, exc)
            return False
        self.publish(event)
        return True

    # -- output ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The ``initial`` message: every known machine, sorted by name."""
        message: dict[str, Any] = {
            "type": "initial",
            "machines": self._table.listing(),
            "timestamp": self.wall_time(),
        }
        if self.seed_error is not None:
            message["error"] = self.seed_error
        return message

    @contextmanager
    def subscribe(self, name: str | None = None) -> Iterator[Subscriber]:
        """Register a subscriber for the duration of the block; its first message is the
        snapshot, taken atomically with its registration (no event falls in between)."""
        self._next_id += 1
        sub = self._fanout.add(name or f"subscriber-{self._next_id}")
        sub.put(Outgoing.of(self.snapshot()))
        try:
            yield sub
        finally:
            self._fanout.remove(sub, "unsubscribed")

    def count_invalid_from(self, counter: Callable[[], int]) -> None:
        """Include another counter of dropped invalid lines (an event-socket listener's that
        validates lines itself) in :meth:`stats`."""
        self._invalid_sources.append(counter)

    def stats(self) -> HubStats:
        return HubStats(
            clients=len(self._fanout.subscribers),
            machines=len(self._table.rows),
            events_relayed=self.events_relayed,
            dropped=self._fanout.dropped,
            invalid=self.invalid + sum(counter() for counter in self._invalid_sources),
            slow_disconnects=self._fanout.slow_disconnects,
            last_event_time=self.last_event_time,
            resyncs=self._fanout.resyncs,
        )

    def close(self, reason: str = "monitor shutting down") -> None:
        """Close every subscriber (their readers get :class:`SubscriberClosed`)."""
        self._fanout.close_all(reason)
