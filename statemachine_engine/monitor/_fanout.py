"""The hub's fan-out: one bounded backlog that every subscriber reads through its own cursor.

A subscriber's queue is the part of the backlog it has not taken yet, bounded by the
backlog's ``capacity``. Relaying never waits for anyone: a subscriber that falls more than
``capacity`` messages behind skips what it missed and is given a fresh snapshot in its place
(a resync), and the others do not notice. A subscriber is closed only when it leaves, when
the hub shuts down, or when it is cut off (too many unread replies, a client that reads
nothing at all).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import StateMachineError
from statemachine_engine.monitor._outgoing import Outgoing

logger = logging.getLogger(__name__)

#: WebSocket close codes (RFC 6455) for why a subscriber was closed
NORMAL, GOING_AWAY, POLICY = 1000, 1001, 1008
#: replies (pong, refreshed snapshots) one subscriber may have waiting at once
MAX_PENDING_REPLIES = 64


class SubscriberClosed(StateMachineError):
    """The hub closed this subscriber: it was cut off, or the hub shut down. ``code`` is
    the WebSocket close code that says which."""

    def __init__(self, reason: str, code: int = NORMAL) -> None:
        self.reason = reason
        self.code = code
        super().__init__(reason)


class Subscriber:
    """One consumer of the hub's events (a WebSocket client, a test, a log tail).

    :meth:`take` and :meth:`receive` return what is due, in order: the snapshot it was
    given, then the events published since, with any direct replies (``pong``, a refreshed
    snapshot) placed where they were asked for. After a resync, a fresh snapshot stands in
    for the events it missed. Both raise :class:`SubscriberClosed` once the hub has dropped
    it.
    """

    def __init__(self, fanout: Fanout, name: str, cursor: int) -> None:
        self.name = name
        self.closed_reason: str | None = None
        self.closed_code = NORMAL
        self.delivered = 0
        #: times it fell a whole backlog behind and was given a fresh snapshot instead
        self.resyncs = 0
        self._fanout = fanout
        self._cursor = cursor
        # (backlog index it is due at, message): replies are sent once the events published
        # before the request have been taken, so a refreshed snapshot never precedes them.
        self._direct: list[tuple[int, Outgoing]] = []
        self._closed = trio.Event()

    @property
    def lag(self) -> int:
        """Events published but not yet taken."""
        return self._fanout._head - self._cursor

    def put(self, message: Outgoing) -> None:
        """Queue a message for this subscriber alone (after what is already due). A client
        that keeps asking without reading the answers is dropped like a slow one."""
        if len(self._direct) >= MAX_PENDING_REPLIES:
            self._fanout.drop(self, f"more than {MAX_PENDING_REPLIES} replies unread")
            return
        self._direct.append((self._fanout._head, message))
        self._fanout.wake()

    def take(self, limit: int = 256) -> list[Outgoing]:
        """What is due now, at most ``limit`` messages; ``[]`` when nothing is."""
        return self._take(limit, self._fanout._backlog)

    def take_frames(self, limit: int = 256) -> list[bytes]:
        """Like :meth:`take`, as WebSocket frames (ready to write, encoded once per event)."""
        return self._take(limit, self._fanout._frames)

    async def take_wait(self, limit: int = 256) -> list[Outgoing]:
        """Like :meth:`take`, waiting until at least one message is due."""
        while not (batch := self.take(limit)):
            await self._fanout._lot.park()
        return batch

    async def take_frames_wait(self, limit: int = 256) -> list[bytes]:
        """Like :meth:`take_frames`, waiting until at least one message is due."""
        while not (batch := self.take_frames(limit)):
            await self._fanout._lot.park()
        return batch

    def _take(self, limit: int, ring: list[Any]) -> list[Any]:
        if self.closed_reason is not None:
            raise SubscriberClosed(self.closed_reason, self.closed_code)
        fanout = self._fanout
        out: list[Any] = []
        while len(out) < limit:
            if self._direct and self._direct[0][0] <= self._cursor:
                message = self._direct.pop(0)[1]
                out.append(message.frame if ring is fanout._frames else message)
                continue
            if self._cursor >= fanout._head:
                break
            stop = min(fanout._head, self._cursor + limit - len(out))
            if self._direct:
                stop = min(stop, self._direct[0][0])
            out.extend(fanout._slice(ring, self._cursor, stop))
            self._cursor = stop
        self.delivered += len(out)
        return out

    def cut_off(self, reason: str) -> None:
        """Close this subscriber as one that does not keep up (WebSocket code 1008)."""
        self._fanout.drop(self, reason)

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


class Fanout:
    """The backlog of the last ``capacity`` messages and the subscribers reading it."""

    def __init__(self, capacity: int, snapshot: Callable[[], Outgoing]) -> None:
        """``snapshot`` makes the message a subscriber that fell behind gets in place of
        what it missed (the hub's ``initial`` message)."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.subscribers: list[Subscriber] = []
        #: messages slow subscribers skipped (resynced) or had not taken (dropped)
        self.dropped = 0
        self.slow_disconnects = 0
        self.resyncs = 0
        self._snapshot = snapshot
        # The backlog is a ring kept twice: as messages and as their WebSocket frames, so a
        # writer's batch is two list slices and a join.
        self._backlog: list[Outgoing | None] = [None] * capacity
        self._frames: list[bytes] = [b""] * capacity
        self._head = 0
        self._lot = trio.lowlevel.ParkingLot()

    def add(self, name: str) -> Subscriber:
        """A new subscriber, due everything relayed from now on."""
        sub = Subscriber(self, name, self._head)
        self.subscribers.append(sub)
        return sub

    def remove(self, sub: Subscriber, reason: str) -> None:
        """Stop relaying to ``sub`` (if it is still subscribed) and close it."""
        if sub in self.subscribers:
            self.subscribers.remove(sub)
        sub._close(reason)

    def relay(self, message: Outgoing) -> None:
        """Append ``message`` to the backlog; resync whoever it would overtake."""
        # The slot about to be reused holds message ``head - capacity``: a subscriber that
        # has not taken it yet has fallen a whole backlog behind.
        oldest_kept = self._head - self.capacity + 1
        behind = []
        if oldest_kept > 0:
            behind = [s for s in self.subscribers if s._cursor < oldest_kept]
        slot = self._head % self.capacity
        self._backlog[slot] = message
        self._frames[slot] = message.frame
        self._head += 1
        if behind:
            # The caller applied ``message`` to the machine table before relaying it, so
            # one snapshot taken now covers it and everything the laggards missed.
            self._resync(behind, self._snapshot())
        self.wake()

    def close_all(self, reason: str) -> None:
        """Close every subscriber (their readers get :class:`SubscriberClosed`)."""
        for sub in list(self.subscribers):
            sub._close(reason, GOING_AWAY)
        self.subscribers.clear()
        self.wake()

    def drop(self, sub: Subscriber, reason: str) -> None:
        """Close a subscriber that does not keep up, with the reason it gets."""
        self.slow_disconnects += 1
        if sub in self.subscribers:
            self.subscribers.remove(sub)
        sub._close(reason, POLICY)
        logger.warning("disconnected %s: %s", sub.name, reason)
        self.wake()

    def wake(self) -> None:
        """Let every waiting reader look again."""
        self._lot.unpark_all()

    def _resync(self, subs: list[Subscriber], snapshot: Outgoing) -> None:
        """Skip ``subs`` past the whole backlog and give each the snapshot first: a client
        that reads, only not as fast as a burst comes in, carries on from the present
        rather than being cut off."""
        for sub in subs:
            # what it will not get as events, the message just relayed included
            self.dropped += self._head - sub._cursor
            sub._cursor = self._head
            # Replies still waiting (a pong, an earlier snapshot) go too: the fresh snapshot
            # answers a refresh and shows the connection alive, and a client that keeps
            # falling behind holds one snapshot at a time, not one per resync.
            sub._direct = [(self._head, snapshot)]
            sub.resyncs += 1
            self.resyncs += 1
            if worth_logging(self.resyncs):
                logger.warning(
                    "%s fell more than %d events behind: sent a fresh snapshot instead "
                    "(%d resyncs so far)",
                    sub.name,
                    self.capacity,
                    self.resyncs,
                )

    def _slice(self, ring: list[Any], start: int, stop: int) -> list[Any]:
        """Entries ``start`` to ``stop`` (backlog indexes, at most ``capacity`` apart)."""
        first = start % self.capacity
        end = first + (stop - start)
        if end <= self.capacity:
            return ring[first:end]
        return ring[first:] + ring[: end - self.capacity]
