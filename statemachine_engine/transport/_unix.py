"""Binding a listening Unix stream socket safely, and removing it afterwards.

Both servers (control socket, event socket) bind through :func:`bind_unix_socket`:

* a path that is not a socket, or is a socket owned by another user, is refused;
* a socket of ours that nobody answers on (left by a killed process) is removed;
* a socket a live server answers on is refused ("already running");
* the new socket is created owner-only (0600) and unlinked on close only if the path still
  names *this* socket, so a successor's socket is never removed.

:func:`serve_unix_socket` accepts connections itself rather than through
``trio.serve_listeners``: out of file descriptors (EMFILE), that one logs a traceback every
0.1 s for as long as it lasts. Here accepting pauses for :data:`ACCEPT_PAUSE` and says so
once, then thinned; the connections waiting in the backlog are taken once descriptors are
free again.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable

import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import TransportError
from statemachine_engine.transport._paths import check_socket_path

log = logging.getLogger(__name__)

_PROBE_TIMEOUT = 1.0

#: errors of accept(2) that mean the process or system is out of a resource for now
_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
#: seconds accepting pauses after one of them
ACCEPT_PAUSE = 0.1


class BoundSocket:
    """A listening socket bound at ``path``; ``aclose`` closes it and removes its file."""

    __slots__ = ("identity", "listener", "path")

    def __init__(self, path: str, listener: trio.SocketListener, identity: tuple[int, int]) -> None:
        self.path = path
        self.listener = listener
        self.identity = identity  # (st_dev, st_ino) of the socket file we created

    async def aclose(self) -> None:
        await self.listener.aclose()
        unlink_if_ours(self.path, self.identity)


def unlink_if_ours(path: str, identity: tuple[int, int]) -> None:
    """Remove ``path`` if it is still the socket file described by ``identity``."""
    try:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) == identity:
            os.unlink(path)
    except OSError:
        pass


async def _answers(path: str, kind: socket.SocketKind) -> bool:
    """Whether a server accepts connections on ``path`` (False when refused or gone)."""
    sock = trio.socket.socket(socket.AF_UNIX, kind)
    try:
        with trio.move_on_after(_PROBE_TIMEOUT):
            await sock.connect(path)
            return True
        return True  # a connect that hangs means a live server with a full backlog
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except BlockingIOError:
        return True  # EAGAIN: backlog full, so someone is listening
    finally:
        sock.close()


async def _clear_stale(path: str, what: str, other: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise TransportError(
            f"cannot inspect {what} path {path}: {exc.strerror}", path=path
        ) from None
    if not stat.S_ISSOCK(st.st_mode):
        raise TransportError(
            f"{what} path {path} exists and is not a socket; refusing to replace it "
            "(remove it or choose another path)",
            path=path,
        )
    if st.st_uid != os.geteuid():
        raise TransportError(
            f"{what} {path} belongs to another user (uid {st.st_uid}); refusing to replace it",
            path=path,
        )
    try:
        live = await _answers(path, socket.SOCK_STREAM)
    except OSError as exc:
        if exc.errno != errno.EPROTOTYPE:
            raise TransportError(f"cannot probe {what} {path}: {exc.strerror}", path=path) from None
        # a datagram socket, as the published package creates: probe it as one
        live = await _answers(path, socket.SOCK_DGRAM)
    if live:
        raise TransportError(
            f"{what} {path} is in use: a server is already running there "
            f"(stop it, or choose another {other})",
            path=path,
        )
    log.info("removing stale %s %s", what, path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


async def bind_unix_socket(
    path: str, *, what: str = "socket", other: str = "path", backlog: int = 1024
) -> BoundSocket:
    """Bind and listen on ``path`` (see the module docstring for the rules).

    Raises TransportError naming the path and what is wrong; when a live server holds it,
    the message suggests choosing another ``other`` (what the user sets to move the path).
    """
    check_socket_path(path)
    await _clear_stale(path, what, other)
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        # The umask makes the file owner-only from the moment it exists; chmod repeats it
        # for filesystems that ignore the umask for sockets. (The umask is process-wide, but
        # only for the duration of one bind call.)
        old_umask = os.umask(0o177)
        try:
            await sock.bind(path)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        sock.listen(backlog)
        st = os.stat(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            reason = "another process bound it at the same moment"
        elif exc.errno == errno.ENOENT:
            reason = f"directory {os.path.dirname(path) or '.'} does not exist"
        else:
            reason = exc.strerror or str(exc)
        raise TransportError(f"cannot create {what} {path}: {reason}", path=path) from None
    log.debug("%s listening on %s", what, path)
    return BoundSocket(path, trio.SocketListener(sock), (st.st_dev, st.st_ino))


async def serve_unix_socket(
    path: str,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    *,
    what: str,
    other: str = "path",
    on_ready: Callable[[], None],
) -> None:
    """Bind ``path`` (with the rules of :func:`bind_unix_socket`), call ``on_ready()``, then
    serve every connection with ``handler`` until cancelled; the socket file is removed on
    the way out."""
    bound = await bind_unix_socket(path, what=what, other=other)
    try:
        async with trio.open_nursery() as nursery:
            on_ready()
            await _accept_forever(bound, handler, nursery, what)
    finally:
        with trio.CancelScope(shield=True):
            await bound.aclose()


async def _accept_forever(
    bound: BoundSocket,
    handler: Callable[[trio.SocketStream], Awaitable[None]],
    nursery: trio.Nursery,
    what: str,
) -> None:
    pauses = 0
    while True:
        try:
            stream = await bound.listener.accept()
        except OSError as exc:
            if exc.errno not in _CAPACITY_ERRNOS:
                raise
            pauses += 1
            if worth_logging(pauses):
                log.warning(
                    "%s %s: cannot accept a connection: %s (%s); pausing accepting for %g s"
                    " (%d times so far)",
                    what,
                    bound.path,
                    os.strerror(exc.errno),
                    errno.errorcode[exc.errno],
                    ACCEPT_PAUSE,
                    pauses,
                )
            await trio.sleep(ACCEPT_PAUSE)
            continue
        nursery.start_soon(_handle, stream, handler)


async def _handle(
    stream: trio.SocketStream, handler: Callable[[trio.SocketStream], Awaitable[None]]
) -> None:
    try:
        await handler(stream)
    finally:
        await trio.aclose_forcefully(stream)
