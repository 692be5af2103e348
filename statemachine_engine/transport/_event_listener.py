"""The listening side of the event socket, used by the monitor and ``statemachine-events``.

Binds a Unix stream socket (same safety rules as the control socket: owner-only, stale
sockets of ours replaced, anything else refused), accepts any number of publishers, and
hands every valid :class:`MachineEvent` to the caller's async ``handler``. Lines that are
not valid events are counted and dropped, never forwarded. A handler that blocks slows the
publishers down; their own bounded buffers decide what to drop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import attrs
import trio

from statemachine_engine.transport import _sockio
from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET
from statemachine_engine.transport._protocol import MachineEvent
from statemachine_engine.transport._unix import serve_unix_socket
from statemachine_engine.transport._wire import (
    MAX_LINE_BYTES,
    LineReader,
    LineTooLong,
    WireError,
    parse_event,
    too_long_error,
)

log = logging.getLogger(__name__)

EventHandler = Callable[[MachineEvent], Awaitable[None]]

_RECEIVE_BYTES = 65536


@attrs.define
class ListenerStatistics:
    received: int = 0  # valid events handed to the handler
    invalid: int = 0  # lines dropped because they were not valid events
    connections_open: int = 0
    connections_total: int = 0


class EventListener:
    """Receives machine events on the Unix socket at ``path``.

    Start with ``await nursery.start(listener.run)``: it returns once publishers can
    connect, or raises TransportError when the path cannot be used. Cancelling the task
    closes every connection and removes the socket file.
    """

    def __init__(
        self,
        handler: EventHandler,
        path: str = DEFAULT_EVENT_SOCKET,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        other: str = "path",
    ) -> None:
        self.path = path
        self._handler = handler
        self._other = other  # what to change when the path is in use (a flag, say)
        self._max_line_bytes = max_line_bytes
        self._stats = ListenerStatistics()

    def statistics(self) -> ListenerStatistics:
        return attrs.evolve(self._stats)

    async def run(
        self, *, task_status: trio.TaskStatus[EventListener] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await serve_unix_socket(
            self.path,
            self._serve,
            what="event socket",
            other=self._other,
            on_ready=lambda: task_status.started(self),
        )

    async def _serve(self, stream: trio.SocketStream) -> None:
        self._stats.connections_open += 1
        self._stats.connections_total += 1
        reader = LineReader(self._max_line_bytes)
        warned = False
        try:
            async with stream:
                while True:
                    data = await _sockio.receive_some(stream.socket, _RECEIVE_BYTES)
                    for line in reader.feed(data) if data else reader.finish():
                        problem = await self._take(line)
                        if problem is not None:
                            self._stats.invalid += 1
                            # one warning per connection; the counter keeps the rest
                            if not warned:
                                log.warning(
                                    "event socket %s: dropped a line: %s", self.path, problem
                                )
                                warned = True
                            else:
                                log.debug("event socket %s: dropped a line: %s", self.path, problem)
                    if not data:
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            self._stats.connections_open -= 1

    async def _take(self, line: bytes | LineTooLong) -> str | None:
        """Hand a valid event to the handler; return what is wrong with an invalid line."""
        if isinstance(line, LineTooLong):
            return too_long_error(self._max_line_bytes)
        if not line.strip():
            return None
        try:
            event = parse_event(line)
        except WireError as exc:
            return str(exc)
        self._stats.received += 1
        await self._handler(event)
        return None
