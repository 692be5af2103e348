"""The monitor hub: the latest state of every machine, and a fan-out of events to subscribers.

Events come in as :class:`MachineEvent` objects (the hub is a
:class:`~statemachine_engine.transport.Publisher`, so a runtime can publish into it in-process)
or as raw JSON lines from the event socket (:meth:`MonitorHub.feed_line`). Every event is
applied to the machine table, serialised once, and appended to a bounded backlog.

Each subscriber reads the backlog through its own cursor, so its queue is the part of the
backlog it has not taken yet, bounded by ``capacity``. Publishing never waits for anyone: a
subscriber that falls more than ``capacity`` events behind is closed with a reason and
removed, and the others do not notice.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import attrs
import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import StateMachineError
from statemachine_engine.transport import MachineEvent

__all__ = ["HubStats", "MonitorHub", "Outgoing", "Registry", "Subscriber", "SubscriberClosed"]

logger = logging.getLogger(__name__)

#: Registry columns a snapshot row carries (the published package's shape, plus extras
#: a browser can use); anything else from the store (such as the context) stays out.
SNAPSHOT_KEYS = (
    "machine_name",
    "current_state",
    "config_type",
    "last_activity",
    "metadata",
    "pid",
    "template",
    "last_transition",
)


class Registry(Protocol):
    """What the hub reads from a store at start (every :class:`~statemachine_engine.
    persistence.Store` has it)."""

    async def machines(self) -> Sequence[Mapping[str, Any]]: ...


#: WebSocket close codes (RFC 6455) for why a subscriber was closed
NORMAL, GOING_AWAY, POLICY = 1000, 1001, 1008
#: replies (pong, refreshed snapshots) one subscriber may have waiting at once
MAX_PENDING_REPLIES = 64


class SubscriberClosed(StateMachineError):
    """The hub closed this subscriber: it fell behind, or the hub shut down. ``code`` is
    the WebSocket close code that says which."""

    def __init__(self, reason: str, code: int = NORMAL) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


def text_frame(data: bytes) -> bytes:
    """An unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2) holding ``data``.

    Server frames are never masked, so one frame serves every client of the hub.
    """
    size = len(data)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 0x10000:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + data


@attrs.frozen
class Outgoing:
    """One message for subscribers: its JSON text, and the same text as a WebSocket frame."""

    text: str
    frame: bytes

    @classmethod
    def of(cls, message: Mapping[str, Any] | str) -> Outgoing:
        text = (
            message
            if isinstance(message, str)
            else json.dumps(message, separators=(",", ":"), default=str)
        )
        return cls(text, text_frame(text.encode()))


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


class Subscriber:
    """One consumer of the hub's events (a WebSocket client, a test, a log tail).

    :meth:`take` and :meth:`receive` return what is due, in order: the snapshot it was
    given, then the events published since, with any direct replies (``pong``, a refreshed
    snapshot) placed where they were asked for. Both raise :class:`SubscriberClosed` once the
    hub has dropped it.
    """

    def __init__(self, hub: MonitorHub, name: str, cursor: int) -> None:
        self.name = name
        self.closed_reason: str | None = None
        self.closed_code = NORMAL
        self.delivered = 0
        self._hub = hub
        self._cursor = cursor
        # (backlog index it is due at, message): replies are sent once the events published
        # before the request have been taken, so a refreshed snapshot never precedes them.
        self._direct: list[tuple[int, Outgoing]] = []
        self._closed = trio.Event()

    @property
    def lag(self) -> int:
        """Events published but not yet taken."""
        return self._hub._head - self._cursor

    def put(self, message: Outgoing) -> None:
        """Queue a message for this subscriber alone (after what is already due). A client
        that keeps asking without reading the answers is dropped like a slow one."""
        if len(self._direct) >= MAX_PENDING_REPLIES:
            self._hub._drop(self, f"more than {MAX_PENDING_REPLIES} replies unread")
            return
        self._direct.append((self._hub._head, message))
        self._hub._wake()

    def take(self, limit: int = 256) -> list[Outgoing]:
        """What is due now, at most ``limit`` messages; ``[]`` when nothing is."""
        return self._take(limit, self._hub._backlog)

    def take_frames(self, limit: int = 256) -> list[bytes]:
        """Like :meth:`take`, as WebSocket frames (ready to write, encoded once per event)."""
        return self._take(limit, self._hub._frames)

    async def take_wait(self, limit: int = 256) -> list[Outgoing]:
        """Like :meth:`take`, waiting until at least one message is due."""
        while not (batch := self.take(limit)):
            await self._hub._lot.park()
        return batch

    async def take_frames_wait(self, limit: int = 256) -> list[bytes]:
        """Like :meth:`take_frames`, waiting until at least one message is due."""
        while not (batch := self.take_frames(limit)):
            await self._hub._lot.park()
        return batch

    def _take(self, limit: int, ring: list[Any]) -> list[Any]:
        if self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason, self.closed_code)
        hub = self._hub
        out: list[Any] = []
        while len(out) < limit:
            if self._direct and self._direct[0][0] <= self._cursor:
                message = self._direct.pop(0)[1]
                out.append(message.frame if ring is hub._frames else message)
                continue
            if self._cursor >= hub._head:
                break
            stop = min(hub._head, self._cursor + limit - len(out))
            if self._direct:
                stop = min(stop, self._direct[0][0])
            out.extend(hub._slice(ring, self._cursor, stop))
            self._cursor = stop
        self.delivered += len(out)
        return out

    async def receive(self) -> str:
        """The next message's JSON text (one at a time; tests and simple consumers)."""
        return (await self.take_wait(1))[0].text

    async def wait_closed(self) -> str:
        """Wait until the hub drops this subscriber; returns the reason."""
        await self._closed.wait()
        assert self.closed_reason is not None
        return self.closed_reason

    def _close(self, reason: str, code: int = NORMAL) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self.closed_code = code
            self._closed.set()


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
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.store = store
        self.wall_time = wall_time
        self.machines: dict[str, dict[str, Any]] = {}
        self.seed_error: str | None = None
        self.events_relayed = 0
        self.dropped = 0
        self.invalid = 0
        self.slow_disconnects = 0
        self.last_event_time: float | None = None
        # The backlog is a ring of the last ``capacity`` messages, kept twice: as messages
        # and as their WebSocket frames, so a writer's batch is two list slices and a join.
        self._backlog: list[Outgoing | None] = [None] * capacity
        self._frames: list[bytes] = [b""] * capacity
        self._head = 0
        self._subscribers: list[Subscriber] = []
        self._lot = trio.lowlevel.ParkingLot()
        self._next_id = 0
        self._invalid_sources: list[Callable[[], int]] = []

    # -- input -----------------------------------------------------------------------------

    async def seed(self) -> None:
        """Fill the machine table from the store's registry (rows already known win)."""
        if self.store is None:
            return
        try:
            rows = await self.store.machines()
        except (StateMachineError, OSError) as exc:
            self.seed_error = str(exc)
            logger.warning("could not read the machine registry: %s", exc)
            return
        for row in rows:
            name = row.get("machine_name")
            if isinstance(name, str) and name not in self.machines:
                self.machines[name] = {k: row[k] for k in SNAPSHOT_KEYS if k in row}
        logger.info("machine table seeded with %d machines from the registry", len(rows))

    def publish(self, event: MachineEvent) -> None:
        """Apply ``event`` to the machine table and relay it. Never blocks, never raises."""
        if not event.timestamp:
            event = attrs.evolve(event, timestamp=self.wall_time())
        self._apply(event)
        self._relay(Outgoing.of(event.to_json()))
        self.events_relayed += 1
        self.last_event_time = event.timestamp

    def feed_line(self, line: bytes | str) -> bool:
        """Validate one line from the event socket and publish it; an invalid line is
        counted and dropped, never forwarded. Returns whether the line was an event."""
        try:
            data = json.loads(line)
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
            "machines": [dict(self.machines[name]) for name in sorted(self.machines)],
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
        sub = Subscriber(self, name or f"subscriber-{self._next_id}", self._head)
        sub.put(Outgoing.of(self.snapshot()))
        self._subscribers.append(sub)
        try:
            yield sub
        finally:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
            sub._close("unsubscribed")

    def count_invalid_from(self, counter: Callable[[], int]) -> None:
        """Include another counter of dropped invalid lines (an event-socket listener's that
        validates lines itself) in :meth:`stats`."""
        self._invalid_sources.append(counter)

    def stats(self) -> HubStats:
        return HubStats(
            clients=len(self._subscribers),
            machines=len(self.machines),
            events_relayed=self.events_relayed,
            dropped=self.dropped,
            invalid=self.invalid + sum(counter() for counter in self._invalid_sources),
            slow_disconnects=self.slow_disconnects,
            last_event_time=self.last_event_time,
        )

    def close(self, reason: str = "monitor shutting down") -> None:
        """Close every subscriber (their readers get :class:`SubscriberClosed`)."""
        for sub in list(self._subscribers):
            sub._close(reason, GOING_AWAY)
        self._subscribers.clear()
        self._lot.unpark_all()

    # -- internals -------------------------------------------------------------------------

    def _apply(self, event: MachineEvent) -> None:
        name, payload = event.machine_name, event.payload
        if event.type == "machine_terminated":
            self.machines.pop(name, None)
            return
        row = self.machines.get(name)
        if event.type == "machine_registered":
            row = self.machines[name] = {
                "machine_name": name,
                "current_state": payload.get("current_state"),
                "config_type": payload.get("config_type"),
                "last_activity": event.timestamp,
            }
            if "template" in payload:
                row["template"] = bool(payload["template"])
        elif event.type == "state_change":
            if row is None:
                row = self.machines[name] = {
                    "machine_name": name,
                    "current_state": None,
                    "config_type": payload.get("config_type"),
                }
            row["current_state"] = payload.get("to_state")
            row["last_activity"] = event.timestamp
            row["last_transition"] = {
                "from_state": payload.get("from_state"),
                "to_state": payload.get("to_state"),
                "event_trigger": payload.get("event_trigger"),
                "timestamp": event.timestamp,
            }
        elif row is not None:
            row["last_activity"] = event.timestamp

    def _relay(self, message: Outgoing) -> None:
        # The slot about to be reused holds event ``head - capacity``: a subscriber that has
        # not taken it yet has fallen a whole backlog behind and is dropped.
        oldest_kept = self._head - self.capacity + 1
        if oldest_kept > 0:
            for sub in [s for s in self._subscribers if s._cursor < oldest_kept]:
                self._drop_slow(sub)
        slot = self._head % self.capacity
        self._backlog[slot] = message
        self._frames[slot] = message.frame
        self._head += 1
        self._wake()

    def _drop_slow(self, sub: Subscriber) -> None:
        self.dropped += self._head - sub._cursor
        self._drop(sub, f"client too slow: fell more than {self.capacity} events behind")

    def _drop(self, sub: Subscriber, reason: str) -> None:
        self.slow_disconnects += 1
        if sub in self._subscribers:
            self._subscribers.remove(sub)
        sub._close(reason, POLICY)
        logger.warning("disconnected %s: %s", sub.name, reason)
        self._wake()

    def _slice(self, ring: list[Any], start: int, stop: int) -> list[Any]:
        """Entries ``start`` to ``stop`` (backlog indexes, at most ``capacity`` apart)."""
        first = start % self.capacity
        end = first + (stop - start)
        if end <= self.capacity:
            return ring[first:end]
        return ring[first:] + ring[: end - self.capacity]

    def _wake(self) -> None:
        self._lot.unpark_all()
