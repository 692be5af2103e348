"""The control socket: JSON-line messages in, one acknowledgement line out per message.

A runtime serves one Unix stream socket (``{prefix}-{machine_name}.sock``). Each line is
parsed into a :class:`Message` and handed to the caller's ``router``; the reply is
``{"ok": true}`` once the router returned, or ``{"ok": false, "error": "..."}`` when the
line was unusable or the router refused it (an empty line too). A bad line never ends the
connection.

At most ``max_connections`` connections are served at once (1,000 by default): one more is
answered ``{"ok": false, "error": "too many connections"}`` and closed, and the refusal is
logged once, then thinned. An idle-connection flood then costs no more than that many file
descriptors.

The router is awaited before the next line of that connection is read, so a router that
blocks (a full mailbox) slows that sender down through the socket's own flow control;
nothing is dropped. Connections are served concurrently.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import ActorStopped, StateMachineError
from statemachine_engine.transport import _sockio
from statemachine_engine.transport._protocol import Message
from statemachine_engine.transport._unix import serve_unix_socket
from statemachine_engine.transport._wire import (
    MAX_LINE_BYTES,
    LineReader,
    LineTooLong,
    WireError,
    ack_error,
    ack_line,
    parse_message,
    too_long_error,
)

if TYPE_CHECKING:
    from statemachine_engine.transport._statistics import ControlServerStatistics

log = logging.getLogger(__name__)

#: Receives each message. Returns None, or a mapping of extra fields for the ``ok`` reply
#: (a ``ping`` handler may answer ``{"pong": true}``). Raises LookupError for an unknown
#: target, ActorStopped for a stopped machine; both become error replies.
Router = Callable[[Message], Awaitable[Mapping[str, Any] | None]]

_RECEIVE_BYTES = 65536

#: connections served at once unless the server is told otherwise
DEFAULT_MAX_CONNECTIONS = 1000
TOO_MANY_CONNECTIONS = "too many connections"
EMPTY_LINE = "empty line"


class _Counters:
    """The server's running counts (a :class:`ControlServerStatistics` is a snapshot)."""

    __slots__ = (
        "connections_open",
        "connections_refused",
        "connections_total",
        "messages_accepted",
        "messages_refused",
    )

    def __init__(self) -> None:
        self.connections_open = 0
        self.connections_total = 0
        self.messages_accepted = 0
        self.messages_refused = 0
        #: connections closed at once because ``max_connections`` were open
        self.connections_refused = 0


def _refusal(exc: BaseException, message: Message) -> str:
    if isinstance(exc, KeyError):
        # str(KeyError("x")) is "'x'": say what it means instead
        name = exc.args[0] if exc.args else message.target
        return f"unknown target {name!r}"
    return str(exc) or type(exc).__name__


class ControlServer:
    """Serves the control socket at ``path``, handing each message to ``router``.

    Start it with ``await nursery.start(server.run)``: it returns once the socket accepts
    connections, or raises TransportError when the path cannot be used. Cancelling the
    task closes every connection and removes the socket file.
    """

    def __init__(
        self,
        path: str,
        router: Router,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.path = path
        #: connections served at once; more are refused
        self.max_connections = max_connections
        self._router = router
        self._max_line_bytes = max_line_bytes
        self._stats = _Counters()
        #: lines refused as unreadable (too long, not JSON, not a message), for the log
        self._unreadable_lines = 0

    def statistics(self) -> ControlServerStatistics:
        from statemachine_engine.transport._statistics import ControlServerStatistics

        stats = self._stats
        return ControlServerStatistics(
            connections_open=stats.connections_open,
            connections_total=stats.connections_total,
            messages_accepted=stats.messages_accepted,
            messages_refused=stats.messages_refused,
            connections_refused=stats.connections_refused,
        )

    async def run(
        self, *, task_status: trio.TaskStatus[ControlServer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await serve_unix_socket(
            self.path,
            self._serve,
            what="control socket",
            other="machine name or --control-socket-prefix",
            on_ready=lambda: task_status.started(self),
        )

    async def _serve(self, stream: trio.SocketStream) -> None:
        if self._stats.connections_open >= self.max_connections:
            await self._refuse(stream)
            return
        self._stats.connections_open += 1
        self._stats.connections_total += 1
        try:
            async with stream:
                await self._converse(stream)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.debug("control connection on %s closed by the peer", self.path)
        finally:
            self._stats.connections_open -= 1

    def _unreadable(self, level: int, problem: str) -> None:
        """Log a line that is not a message (its sender is told in its acknowledgement):
        the first, then one in a thousand, so that a peer sending garbage cannot flood
        the log."""
        self._unreadable_lines += 1
        if worth_logging(self._unreadable_lines):
            log.log(
                level,
                "control socket %s: refused a line (%d so far): %s",
                self.path,
                self._unreadable_lines,
                problem,
            )

    async def _refuse(self, stream: trio.SocketStream) -> None:
        """Answer one line saying why, then close (by the caller)."""
        self._stats.connections_refused += 1
        refused = self._stats.connections_refused
        if worth_logging(refused):
            log.warning(
                "control socket %s: %s (limit %d): refused a connection (%d so far)",
                self.path,
                TOO_MANY_CONNECTIONS,
                self.max_connections,
                refused,
            )
        # a new connection's buffer is empty: this never waits (a peer gone already: no one
        # to tell)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await _sockio.send_all(stream.socket, ack_error(TOO_MANY_CONNECTIONS))

    async def _converse(self, stream: trio.SocketStream) -> None:
        sock = stream.socket
        reader = LineReader(self._max_line_bytes)
        while True:
            # the loop's one schedule point (unless the router must wait for room): the
            # acknowledgements are written without another
            data = await _sockio.receive_some(sock, _RECEIVE_BYTES)
            lines: list[bytes | LineTooLong] = reader.feed(data) if data else list(reader.finish())
            # Replies to one chunk of lines go out in one write: a sender that pipelines
            # costs one syscall per chunk, not per message.
            replies = [await self._answer(line) for line in lines]
            if replies:
                await _sockio.send_all(sock, b"".join(replies))
            if not data:
                return

    async def _answer(self, line: bytes | LineTooLong) -> bytes:
        if isinstance(line, LineTooLong):
            self._stats.messages_refused += 1
            self._unreadable(logging.WARNING, too_long_error(self._max_line_bytes))
            return ack_error(too_long_error(self._max_line_bytes))
        if not line.strip():
            self._stats.messages_refused += 1
            return ack_error(EMPTY_LINE)
        try:
            message = parse_message(line)
        except WireError as exc:
            self._stats.messages_refused += 1
            self._unreadable(logging.INFO, str(exc))
            return ack_error(str(exc))
        try:
            extra = await self._router(message)
        except (LookupError, ActorStopped, StateMachineError, ValueError) as exc:
            self._stats.messages_refused += 1
            return ack_error(_refusal(exc, message))
        except Exception as exc:
            # The boundary to a remote peer: report the bug here, answer the peer, go on.
            self._stats.messages_refused += 1
            log.exception("control socket %s: routing %r failed", self.path, message.type)
            return ack_error(f"internal error while routing {message.type!r}: {exc}")
        self._stats.messages_accepted += 1
        return ack_line(extra)
