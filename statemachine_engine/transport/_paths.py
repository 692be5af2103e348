"""Where the sockets live: default paths, the control-socket naming rule, endpoints.

Imports no trio, so command-line tools can resolve a target cheaply.
"""

from __future__ import annotations

import os

from statemachine_engine._strict_json import surrogate_in
from statemachine_engine.errors import TransportError

#: ``--control-socket-prefix`` default; a machine's socket is ``{prefix}-{name}.sock``
DEFAULT_CONTROL_PREFIX = "/tmp/statemachine-control"
#: ``--event-socket-path`` default: where the monitor listens for machine events
DEFAULT_EVENT_SOCKET = "/tmp/statemachine-events.sock"
#: longest path ``bind``/``connect`` accept for an AF_UNIX socket (``sun_path`` minus the NUL)
MAX_SOCKET_PATH_BYTES = 107


def check_machine_name(machine_name: str) -> None:
    """Raise ValueError saying why ``machine_name`` cannot name a runtime's machine: it is
    part of the control socket's path, and a key of the database and of every message."""
    if not machine_name:
        raise ValueError("machine name must not be empty")
    if "/" in machine_name or "\0" in machine_name:
        raise ValueError(f"machine name {machine_name!r} cannot be part of a socket path")
    if surrogate_in(machine_name) is not None:
        raise ValueError(
            f"machine name {machine_name!r} is not text (it holds bytes that are not UTF-8)"
        )


def control_socket_path(machine_name: str, prefix: str | None = None) -> str:
    """The control socket of the runtime whose primary machine is ``machine_name``."""
    check_machine_name(machine_name)
    return f"{prefix or DEFAULT_CONTROL_PREFIX}-{machine_name}.sock"


def endpoint_path(endpoint: str) -> str:
    """The socket path an endpoint names.

    The registry's ``endpoint`` column holds a socket path; ``unix:PATH`` and
    ``unix://PATH`` are accepted as well.
    """
    for scheme in ("unix://", "unix:"):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :]
    return endpoint


def resolve_socket_path(target: str, endpoint: str | None = None, prefix: str | None = None) -> str:
    """The control socket to send to ``target``: its registered endpoint, else the convention."""
    if endpoint:
        return endpoint_path(endpoint)
    try:
        return control_socket_path(target, prefix)
    except ValueError as exc:
        raise TransportError(f"cannot address {target!r}: {exc}", target=target) from None


def check_socket_path(path: str) -> None:
    """Raise TransportError when ``path`` is too long to be a Unix socket address."""
    size = len(os.fsencode(path))
    if size > MAX_SOCKET_PATH_BYTES:
        raise TransportError(
            f"socket path {path} is too long ({size} bytes; Unix sockets allow "
            f"{MAX_SOCKET_PATH_BYTES})",
            path=path,
        )
