"""A blocking, trio-free client for the control socket, for command-line tools.

One call connects, sends one message line, reads the acknowledgement and closes. Every
failure is a TransportError whose message names the target, the socket path and the
reason; a refusal by the peer (``{"ok": false}``) is a DeliveryError.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from statemachine_engine.transport._protocol import Message

from statemachine_engine.errors import DeliveryError, TransportError
from statemachine_engine.transport._paths import check_socket_path, resolve_socket_path
from statemachine_engine.transport._wire import (
    LineReader,
    LineTooLong,
    WireError,
    encode_message,
    parse_ack,
)

DEFAULT_TIMEOUT = 5.0


def addressed(message: Message | Mapping[str, Any], target: str | None) -> dict[str, Any]:
    """The message as a dict, with ``target`` filled in when it has none."""
    data = message.to_dict() if hasattr(message, "to_dict") else dict(message)
    if target is not None and not data.get("target"):
        data["target"] = target
    return data


def _who(target: str | None, path: str) -> str:
    return f"{target!r} at {path}" if target else path


def connect_error(
    exc: OSError,
    target: str | None,
    path: str,
    *,
    what: str = "control socket",
    owner: str = "its runtime",
) -> TransportError:
    """Translate a failed connect into a TransportError a user can act on."""
    who = f"cannot reach {target!r}" if target else f"cannot connect to {what}"
    if isinstance(exc, FileNotFoundError):
        reason = f"no {what} at {path} (is {owner} running?)"
    elif isinstance(exc, ConnectionRefusedError):
        reason = f"connection refused at {path} (stale socket file: {owner} is not running)"
    elif isinstance(exc, PermissionError):
        reason = f"permission denied for {path} (the socket belongs to another user)"
    elif isinstance(exc, TimeoutError):
        reason = f"timed out connecting to {path} ({exc or 'no answer'})"
    else:
        reason = f"{exc.strerror or exc} ({path})"
    return TransportError(f"{who}: {reason}", target=target, path=path)


def connect_unix(path: str, timeout: float) -> socket.socket:
    """A stream socket connected to ``path``, in timeout mode with ``timeout`` seconds left.

    A listener whose backlog is full makes ``connect`` fail at once with EAGAIN (it does
    not wait, whatever the timeout): retry, backing off, until ``timeout`` has passed, then
    raise TimeoutError. Any other failure is raised as it is.
    """
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(path)
        except BlockingIOError:
            sock.close()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"its listen backlog stayed full for {timeout:g} s: the server is not "
                    "accepting connections"
                ) from None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.1)
            continue
        except BaseException:
            sock.close()
            raise
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        return sock


def send_message(
    target: str,
    message: Message | Mapping[str, Any],
    *,
    endpoint: str | None = None,
    prefix: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """Deliver ``message`` to ``target`` and return the peer's acknowledgement.

    ``endpoint`` is the target's registered socket (from the store's registry), if known;
    otherwise the path is ``{prefix}-{target}.sock``. ``timeout`` bounds the whole exchange.
    """
    path = resolve_socket_path(target, endpoint, prefix)
    return send_to_socket(path, addressed(message, target), timeout=timeout, target=target)


def send_to_socket(
    path: str,
    message: Message | Mapping[str, Any],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    target: str | None = None,
) -> dict[str, Any]:
    """Send one message to the control socket at ``path``; return the acknowledgement."""
    check_socket_path(path)
    try:
        line = encode_message(message)
    except WireError as exc:
        raise TransportError(
            f"cannot send to {_who(target, path)}: {exc}", target=target, path=path
        ) from None
    deadline = time.monotonic() + timeout
    try:
        sock = connect_unix(path, timeout)
    except OSError as exc:
        raise connect_error(exc, target, path) from None
    try:
        try:
            sock.sendall(line)
            ack = _read_ack(sock, deadline)
        except TimeoutError:
            raise TransportError(
                f"timed out after {timeout:g} s waiting for {_who(target, path)} to acknowledge",
                target=target,
                path=path,
            ) from None
        except OSError as exc:
            raise TransportError(
                f"connection to {_who(target, path)} failed: {exc.strerror or exc}",
                target=target,
                path=path,
            ) from None
    finally:
        sock.close()
    if not ack["ok"]:
        raise DeliveryError(
            f"{_who(target, path)} refused the message: {ack.get('error', 'no reason given')}",
            target=target,
            path=path,
        )
    return ack


def _read_ack(sock: socket.socket, deadline: float) -> dict[str, Any]:
    reader = LineReader()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        data = sock.recv(65536)
        lines = reader.feed(data) if data else reader.finish()
        for line in lines:
            if isinstance(line, LineTooLong):
                raise TransportError("the peer answered a line over the size limit")
            try:
                return parse_ack(line)
            except WireError as exc:
                raise TransportError(f"the peer answered something unexpected: {exc}") from None
        if not data:
            raise TransportError("the peer closed the connection without acknowledging")
