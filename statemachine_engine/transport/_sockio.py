"""Reads and writes on a connected trio socket with one pass of the scheduler per read.

trio's socket calls are always schedule points: a call that completes at once still
yields to the scheduler afterwards, a pass of the run loop. On the control and event
sockets a message takes three such calls (read the line, write the acknowledgement, read
the next line), where one pass is enough: a write goes out at once and waits only when the
socket's buffer is full; a read waits for the socket to be readable first (so a peer that
keeps the socket full still costs one schedule point per read) and then reads what is
there.
"""

from __future__ import annotations

import errno
import os

import trio

_CLOSED_ERRNOS = frozenset({errno.EBADF, errno.ENOTSOCK})


def _fileno(sock: trio.socket.SocketType) -> int:
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("this socket was already closed")
    return fd


def _stream_error(exc: OSError) -> trio.BrokenResourceError | trio.ClosedResourceError:
    """The error trio's SocketStream raises for ``exc``."""
    if exc.errno in _CLOSED_ERRNOS:
        return trio.ClosedResourceError("this socket was already closed")
    return trio.BrokenResourceError(f"socket connection broken: {exc}")


def receive_nowait(sock: trio.socket.SocketType, max_bytes: int) -> bytes | None:
    """What has arrived (``b""`` at the end of the stream), or None when nothing has."""
    try:
        return os.read(_fileno(sock), max_bytes)
    except BlockingIOError:
        return None
    except OSError as exc:
        raise _stream_error(exc) from exc


async def receive_some(sock: trio.socket.SocketType, max_bytes: int) -> bytes:
    """Wait until the socket is readable, then read (``b""`` at the end of the stream).

    Waiting first, instead of trying a read that fails: the callers read after answering
    what they read last, when the peer has rarely sent more yet; and when it has, the wait
    is the schedule point the caller owes its other tasks anyway.
    """
    while True:
        await trio.lowlevel.wait_readable(_fileno(sock))
        data = receive_nowait(sock, max_bytes)
        if data is not None:
            return data


async def send_all(sock: trio.socket.SocketType, data: bytes) -> None:
    """Write all of ``data``; a checkpoint only when the socket's buffer is full.

    Cancelled while waiting, part of ``data`` may have been written: the stream is then
    unusable, as with trio's own ``send_all``.
    """
    view = memoryview(data)
    while view:
        try:
            sent = os.write(_fileno(sock), view)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise _stream_error(exc) from exc
        view = view[sent:]
        if view:
            await trio.lowlevel.wait_writable(_fileno(sock))
