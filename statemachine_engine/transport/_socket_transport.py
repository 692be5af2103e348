"""Sending to control sockets from trio: a persistent connection and the socket Transport.

:class:`ControlConnection` keeps one connection open and lets many messages be in flight:
each sender writes its line and waits for its acknowledgement, which arrive in order.
Whichever waiting sender holds the read lock reads and hands out acknowledgements, so no
background task is needed and a cancelled sender leaves the connection usable.

Retry rule: a single message whose *write* fails because the peer is gone (a cached
connection to a runtime that restarted) is sent again once on a fresh connection; the
peer never saw it, so it cannot arrive twice. A connection that breaks after the write is
reported as a TransportError, never retried, since the peer may have acted on it.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from itertools import islice
from typing import Any

import trio

from statemachine_engine.errors import DeliveryError, StoreError, TransportError
from statemachine_engine.transport import _sockio
from statemachine_engine.transport._control_client import DEFAULT_TIMEOUT, addressed, connect_error
from statemachine_engine.transport._paths import check_socket_path, resolve_socket_path
from statemachine_engine.transport._protocol import Message
from statemachine_engine.transport._wire import (
    ACK_OK,
    LineReader,
    LineTooLong,
    WireError,
    encode_message,
    parse_ack,
)

log = logging.getLogger(__name__)

#: target name -> registered endpoint (socket path), or None to use the path convention
Resolver = Callable[[str], Awaitable[str | None]]

_RECEIVE_BYTES = 65536
_CHUNK = 64  # messages per write in send_many


_ACK_OK = ACK_OK.rstrip(b"\n")


async def _acquire(lock: trio.Lock) -> None:
    """Take ``lock``. Uncontended, this takes no schedule point of its own: a sender reaches
    one anyway while it waits for its acknowledgement."""
    try:
        lock.acquire_nowait()
    except trio.WouldBlock:
        await lock.acquire()


class NotConnected(TransportError):
    """The control socket could not be connected to: nothing was sent."""


class _Waiter:
    __slots__ = ("ack", "error")

    def __init__(self) -> None:
        self.ack: dict[str, Any] | None = None
        self.error: TransportError | None = None

    @property
    def done(self) -> bool:
        return self.ack is not None or self.error is not None


class ControlConnection:
    """A persistent connection to one control socket. Safe to share between tasks.

    Connects on first use. ``send`` waits for the acknowledgement and raises DeliveryError
    when the peer refuses the message, TransportError when it cannot be reached.
    """

    def __init__(self, path: str, *, target: str | None = None) -> None:
        check_socket_path(path)
        self.path = path
        self.target = target
        self._stream: trio.SocketStream | None = None
        self._reader = LineReader()
        self._pending: collections.deque[_Waiter] = collections.deque()
        self._write_lock = trio.Lock()
        self._read_lock = trio.Lock()
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._stream is not None

    async def __aenter__(self) -> ControlConnection:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._drop(TransportError(f"connection to {self.path} closed", path=self.path))
        await trio.lowlevel.checkpoint()

    async def send(self, message: Message | Mapping[str, Any]) -> dict[str, Any]:
        """Send one message and return its acknowledgement (``{"ok": true, ...}``)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        line = self._encode(message)
        waiter = (await self._submit(line, 1, retry=True))[0]
        await self._wait(waiter)
        return self._result(waiter)

    async def send_many(
        self, messages: Iterable[Message | Mapping[str, Any]], *, window: int = 256
    ) -> list[dict[str, Any]]:
        """Send messages pipelined, at most ``window`` unacknowledged; return every ack.

        Refusals are returned as ``{"ok": false, "error": ...}`` acks, not raised. A broken
        connection raises TransportError (messages up to the failure may have arrived).
        """
        it = iter(messages)
        outstanding: collections.deque[_Waiter] = collections.deque()
        acks: list[dict[str, Any]] = []
        exhausted = False
        low_water = max(1, window // 2)
        while True:
            while not exhausted and len(outstanding) < low_water:
                chunk = list(islice(it, min(_CHUNK, window - len(outstanding))))
                if not chunk:
                    exhausted = True
                    break
                data = b"".join(self._encode(m) for m in chunk)
                outstanding.extend(await self._submit(data, len(chunk), retry=False))
            if not outstanding:
                return acks
            waiter = outstanding.popleft()
            await self._wait(waiter)
            if waiter.error is not None:
                raise waiter.error
            assert waiter.ack is not None
            acks.append(waiter.ack)

    # -- internals -------------------------------------------------------------------

    def _encode(self, message: Message | Mapping[str, Any]) -> bytes:
        try:
            if self.target is not None:
                message = addressed(message, self.target)
            return encode_message(message)
        except WireError as exc:
            raise TransportError(f"cannot send to {self.path}: {exc}", path=self.path) from None

    def _result(self, waiter: _Waiter) -> dict[str, Any]:
        if waiter.error is not None:
            raise waiter.error
        assert waiter.ack is not None
        if not waiter.ack["ok"]:
            who = f"{self.target!r} at {self.path}" if self.target else self.path
            reason = waiter.ack.get("error", "no reason given")
            raise DeliveryError(
                f"{who} refused the message: {reason}", target=self.target, path=self.path
            )
        return waiter.ack

    async def _open(self) -> trio.SocketStream:
        try:
            stream = await trio.open_unix_socket(self.path)
        except OSError as exc:
            error = connect_error(exc, self.target, self.path)
            raise NotConnected(str(error), target=self.target, path=self.path) from None
        self._stream = stream
        self._reader = LineReader()
        self.connects += 1
        return stream

    def _drop(self, error: TransportError) -> None:
        """Close the connection and fail every message still waiting for an ack."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.socket.close()
        while self._pending:
            waiter = self._pending.popleft()
            if not waiter.done:
                waiter.error = error

    async def _submit(self, data: bytes, count: int, *, retry: bool) -> list[_Waiter]:
        await _acquire(self._write_lock)
        try:
            for attempt in range(2 if retry else 1):
                stream = self._stream or await self._open()
                waiters = [_Waiter() for _ in range(count)]
                self._pending.extend(waiters)
                try:
                    await _sockio.send_all(stream.socket, data)
                    return waiters
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._drop(self._broken("before the message was sent"))
                    if attempt == 0 and retry:
                        log.debug("control connection to %s was broken; reconnecting", self.path)
                except BaseException:
                    # Cancelled mid-write: the stream may hold half a line; it is unusable.
                    self._drop(self._broken("while sending"))
                    raise
            raise self._broken("while sending")
        finally:
            self._write_lock.release()

    def _broken(self, when: str) -> TransportError:
        return TransportError(
            f"connection to {self.path} broke {when}", target=self.target, path=self.path
        )

    async def _wait(self, waiter: _Waiter) -> None:
        while not waiter.done:
            await _acquire(self._read_lock)
            try:
                if not waiter.done:
                    await self._read_acks()
            finally:
                self._read_lock.release()

    async def _read_acks(self) -> None:
        stream = self._stream
        if stream is None:  # dropped by another task; its waiters were failed already
            await trio.lowlevel.checkpoint()
            return
        try:
            data = await _sockio.receive_some(stream.socket, _RECEIVE_BYTES)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if not data:
            if stream is self._stream:
                self._drop(self._broken("before the acknowledgement arrived"))
            return
        if data == ACK_OK and self._pending and not self._reader.buffered:
            # the usual reply of a sender that waits for each message: one whole "ok"
            self._pending.popleft().ack = {"ok": True}
            return
        for line in self._reader.feed(data):
            problem: str | None = None
            if isinstance(line, LineTooLong):
                problem = "an acknowledgement over the size limit"
            elif not self._pending:
                problem = "an acknowledgement nobody was waiting for"
            else:
                try:
                    ack = {"ok": True} if line == _ACK_OK else parse_ack(line)
                except WireError as exc:
                    problem = f"an invalid acknowledgement ({exc})"
            if problem is not None:
                self._drop(
                    TransportError(
                        f"{self.path} answered {problem}", target=self.target, path=self.path
                    )
                )
                return
            self._pending.popleft().ack = ack


class SocketTransport:
    """The :class:`Transport` that reaches machines in other runtimes by control socket.

    ``resolver`` maps a target to its registered endpoint (the store's registry); without
    one, or when it returns None, the path is ``{prefix}-{target}.sock``. One persistent
    connection is kept per socket path. ``timeout`` bounds each delivery, including the
    time the peer applies backpressure.

    A target's path is looked up once and remembered until a delivery there fails; when
    the remembered endpoint cannot be connected to or refuses the message (so it certainly
    did not take it), the target is looked up again and, if it moved, the message is sent
    to its new endpoint.
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        prefix: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._resolver = resolver
        self._prefix = prefix
        self._timeout = timeout
        self._connections: dict[str, ControlConnection] = {}
        self._paths: dict[str, str] = {}  # target -> path that last took a message

    async def resolve(self, target: str) -> str:
        """The control socket path for ``target`` (always a fresh lookup)."""
        endpoint: str | None = None
        if self._resolver is not None:
            try:
                endpoint = await self._resolver(target)
            except StoreError as exc:
                log.warning(
                    "registry lookup of %r failed (%s); using the path convention", target, exc
                )
        return resolve_socket_path(target, endpoint, self._prefix)

    async def deliver(self, target: str, message: Message) -> None:
        known = self._paths.get(target)
        path = known or await self.resolve(target)
        try:
            await self._deliver_at(target, path, message)
        except (NotConnected, DeliveryError):
            self._paths.pop(target, None)
            if known is None:
                raise
            moved = await self.resolve(target)
            if moved == path:
                raise
            log.debug("%r moved from %s to %s; sending there", target, path, moved)
            path = moved
            await self._deliver_at(target, path, message)
        except TransportError:
            self._paths.pop(target, None)
            raise
        self._paths[target] = path

    async def _deliver_at(self, target: str, path: str, message: Message) -> None:
        conn = self._connections.get(path)
        if conn is None:
            conn = self._connections[path] = ControlConnection(path)
        data = message if message.target is not None else addressed(message, target)
        with trio.move_on_after(self._timeout):
            try:
                await conn.send(data)
            except TransportError as exc:
                if not conn.connected:
                    self._connections.pop(path, None)
                if exc.target is None:
                    exc.target = target
                raise
            return
        raise TransportError(
            f"timed out after {self._timeout:g} s delivering to {target!r} at {path} (no "
            "acknowledgement: if the message was already written, it may still arrive)",
            target=target,
            path=path,
        )

    async def aclose(self) -> None:
        connections, self._connections = self._connections, {}
        self._paths.clear()
        for conn in connections.values():
            await conn.aclose()
