"""A blocking, trio-free writer of machine events, for one-shot command-line tools.

``statemachine-db send-event --target ui`` uses it to put one ``activity_log`` in front of
the monitor. Runtimes use :class:`SocketEventPublisher` instead, which never blocks.
"""

from __future__ import annotations

from collections.abc import Iterable

from statemachine_engine.errors import TransportError
from statemachine_engine.transport._control_client import connect_error, connect_unix
from statemachine_engine.transport._paths import DEFAULT_EVENT_SOCKET, check_socket_path
from statemachine_engine.transport._protocol import MachineEvent
from statemachine_engine.transport._wire import encode_event


def send_events(
    events: Iterable[MachineEvent], path: str = DEFAULT_EVENT_SOCKET, *, timeout: float = 2.0
) -> int:
    """Write ``events`` to the event socket at ``path``; return how many were written.

    Raises TransportError naming the path when no monitor listens there.
    """
    check_socket_path(path)
    data = b"".join(encode_event(e) for e in events)
    try:
        sock = connect_unix(path, timeout)
    except OSError as exc:
        raise connect_error(exc, None, path, what="event socket", owner="the monitor") from None
    try:
        try:
            sock.sendall(data)
        except OSError as exc:
            raise TransportError(
                f"writing to event socket {path} failed: {exc.strerror or exc}", path=path
            ) from None
    finally:
        sock.close()
    return data.count(b"\n")
