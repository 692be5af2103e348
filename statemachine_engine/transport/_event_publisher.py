"""Publishing machine events to the monitor's event socket without ever blocking a machine.

``publish`` appends to a bounded in-memory buffer and returns. A background task
(``await nursery.start(publisher.run)``) connects to the Unix stream socket, writes the
buffered events as JSON lines, and reconnects with exponential backoff (capped at
``max_backoff``) while no monitor listens. An event after a quiet spell is written at once;
the rest of a burst (a worker draining a queue publishes at every scheduler pass) is
gathered into few large writes, so a reader of every event costs the runtime little.

When the buffer is full the **oldest** buffered event is dropped: a monitor that comes back
wants the latest state of every machine more than a history it missed. Events lost because
the connection broke in the middle of a write are counted as dropped too. Drops are logged
as one summary line per ``report_interval``, never one line per event: a warning when a
monitor was listening (it could not keep up, or went away mid-write), an info line when
none was (nobody to show them to; with ``quiet=True``, as for a runtime that hosts its own
monitor, a debug line).
"""

from __future__ import annotations

import collections
import logging
import math
from typing import TYPE_CHECKING

import trio

from statemachine_engine.transport import _sockio
from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET, check_socket_path
from statemachine_engine.transport._protocol import MachineEvent
from statemachine_engine.transport._wire import encode_event

if TYPE_CHECKING:
    from statemachine_engine.transport._statistics import PublisherStatistics

log = logging.getLogger(__name__)

_BATCH = 512  # events per write at most
#: two-pass windows a write waits at most for more events (see ``_rest_of_burst``)
_MAX_ROUNDS = 32


class SocketEventPublisher:
    """A :class:`Publisher` writing to the event socket at ``path``.

    ``publish`` must be called from the trio thread that runs :meth:`run`.
    """

    def __init__(
        self,
        path: str = DEFAULT_EVENT_SOCKET,
        *,
        capacity: int = 10_000,
        initial_backoff: float = 0.05,
        max_backoff: float = 2.0,
        report_interval: float = 30.0,
        quiet: bool = False,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        check_socket_path(path)
        self.path = path
        self.capacity = capacity
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._report_interval = report_interval
        # nobody listening is news only when no monitor is expected elsewhere
        self._absent_level = logging.DEBUG if quiet else logging.INFO
        self._buffer: collections.deque[MachineEvent] = collections.deque()
        self._wakeup = trio.Event()
        self._progress = trio.Event()
        self._published = 0
        self._sent = 0
        self._writes = 0
        self._dropped = 0
        self._dropped_listened = 0  # of those, dropped while a monitor was connected
        self._connected = False
        self._connects = 0
        self._reported_dropped = 0
        self._reported_listened = 0
        self._last_report = -math.inf

    def publish(self, event: MachineEvent) -> None:
        self._published += 1
        if len(self._buffer) >= self.capacity:
            self._buffer.popleft()
            self._dropped += 1
            if self._connected:
                self._dropped_listened += 1
        self._buffer.append(event)
        self._wakeup.set()

    def statistics(self) -> PublisherStatistics:
        from statemachine_engine.transport._statistics import PublisherStatistics

        return PublisherStatistics(
            published=self._published,
            sent=self._sent,
            writes=self._writes,
            dropped=self._dropped,
            buffered=len(self._buffer),
            connected=self._connected,
            connects=self._connects,
        )

    async def flush(self) -> None:
        """Wait until every event published so far is written or dropped.

        Returns at once while no listener is connected (nothing would drain the buffer);
        put it under a cancel scope to bound a shutdown.
        """
        target = self._published
        while self._connected and self._sent + self._dropped < target:
            await self._progress.wait()

    async def run(
        self, *, task_status: trio.TaskStatus[SocketEventPublisher] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Deliver buffered events until cancelled."""
        task_status.started(self)
        backoff = self._initial_backoff
        announced_absent = False
        while True:
            self._report_drops()
            try:
                stream = await trio.open_unix_socket(self.path)
            except OSError as exc:
                if not announced_absent:
                    log.log(
                        self._absent_level,
                        "no monitor on event socket %s (%s); buffering up to %d events",
                        self.path,
                        exc.strerror or exc,
                        self.capacity,
                    )
                    announced_absent = True
                await trio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = self._initial_backoff
            announced_absent = False
            self._connects += 1
            self._connected = True
            log.info("connected to event socket %s", self.path)
            try:
                async with stream:
                    await self._pump(stream)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
                log.info("lost event socket %s (%s); reconnecting", self.path, exc)
            finally:
                self._connected = False
                self._notify_progress()

    async def _pump(self, stream: trio.SocketStream) -> None:
        sock = stream.socket
        while True:
            if not self._buffer:
                await self._wait_for_events()
            batch = [self._buffer.popleft() for _ in range(min(_BATCH, len(self._buffer)))]
            lines: list[bytes] = []
            for event in batch:
                try:
                    lines.append(encode_event(event))
                except (TypeError, ValueError) as exc:
                    self._dropped += 1
                    self._dropped_listened += 1
                    log.warning(
                        "cannot encode %s event of %s: %s", event.type, event.machine_name, exc
                    )
            try:
                await _sockio.send_all(sock, b"".join(lines))
            except BaseException:
                self._dropped += len(lines)
                self._dropped_listened += len(lines)
                raise
            self._sent += len(lines)
            self._writes += 1
            self._notify_progress()
            self._report_drops()
            await self._rest_of_burst()

    async def _rest_of_burst(self) -> None:
        """After a write, let the tasks that are ready to run go first while they keep
        publishing, so that the rest of a burst goes out in one write: one system call
        (and one wake-up of the reader) for many events instead of one per event or two.

        The first event after a quiet spell is written at once (no latency added), and no
        timer is involved: as soon as two passes of the scheduler publish nothing more,
        what they did publish is written. Two passes, because trio runs each pass's ready
        tasks in either order: only a window of two passes is sure to include one whole
        run of every task that stays ready. A runtime that keeps publishing gets a write
        every ``_BATCH`` events or ``_MAX_ROUNDS`` such windows, whichever comes first.
        """
        for _ in range(_MAX_ROUNDS):
            if len(self._buffer) >= _BATCH:
                return
            before = self._published
            await trio.lowlevel.checkpoint()
            await trio.lowlevel.checkpoint()
            if self._published == before:
                return

    async def _wait_for_events(self) -> None:
        while not self._buffer:
            self._report_drops()
            self._wakeup = trio.Event()
            if self._dropped == self._reported_dropped:
                await self._wakeup.wait()
            else:
                # drops not reported yet (the last report is too recent): wake up in time
                # to report them even if no event comes
                with trio.move_on_after(self._report_interval):
                    await self._wakeup.wait()

    def _notify_progress(self) -> None:
        self._progress.set()
        self._progress = trio.Event()

    def _report_drops(self) -> None:
        new = self._dropped - self._reported_dropped
        if not new:
            return
        now = trio.current_time()
        if now - self._last_report < self._report_interval:
            return
        listened = self._dropped_listened > self._reported_listened
        log.log(
            logging.WARNING if listened else self._absent_level,
            "event socket %s: dropped %d events%s (%d in total since start; buffer capacity %d)",
            self.path,
            new,
            "" if listened else ", the oldest first, with no monitor listening",
            self._dropped,
            self.capacity,
        )
        self._reported_dropped = self._dropped
        self._reported_listened = self._dropped_listened
        self._last_report = now
