"""Which browser pages may open the monitor's WebSocket (the ``Origin`` check), and which
host names the UI server answers to (the ``Host`` check).

A browser sends ``Origin`` with every WebSocket handshake; other clients (command-line
tools, scripts) usually send none and are let through. A page may connect when its host is
a loopback name, the address the server is bound to, or on the allow-list. The ``Host``
header is trusted as "the same host" only when the server listens on a non-loopback
address: on loopback, a page whose own host name resolves to 127.0.0.1 (DNS rebinding) must
not be able to read the machines' events.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_HOSTS", "host_allowed", "host_of", "is_loopback", "origin_allowed"]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})


def host_of(value: str | None) -> str | None:
    """The lower-case host name of a ``Host`` header or an origin/URL (no port, no brackets)."""
    if not value:
        return None
    text = value.strip()
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    return host.lower() if host else None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_allowed(
    origin: str | None,
    *,
    host_header: str | None,
    bind_host: str,
    allowed: Collection[str] = (),
) -> bool:
    """Whether a handshake with this ``Origin`` may proceed.

    ``allowed`` holds host names or full origins (``http://dash.example:8080``); ``*``
    allows every origin.
    """
    if origin is None:
        return True
    if "*" in allowed or origin in allowed:
        return True
    host = host_of(origin) if origin != "null" else None
    if host is None:
        return False
    if is_loopback(host) or host in {a.lower() for a in allowed}:
        return True
    bound = bind_host.lower().strip("[]")
    if host == bound:
        return True
    exposed = bound in _WILDCARD_BINDS or not is_loopback(bound)
    return exposed and host == host_of(host_header)


def host_allowed(host_header: str | None, *, bind_host: str, allowed: Collection[str] = ()) -> bool:
    """Whether the HTTP server answers a request sent to this ``Host``.

    On a loopback address only loopback names (and the allow-list) are answered, so a web
    page that rebinds its own name to 127.0.0.1 cannot read the machines through it. A
    server bound to another address was exposed on purpose and answers any name.
    """
    host = host_of(host_header)
    if host is None or "*" in allowed or is_loopback(host):
        return True
    bound = bind_host.lower().strip("[]")
    if bound in _WILDCARD_BINDS or not is_loopback(bound) or host == bound:
        return True
    return host in {host_of(a) or a.lower() for a in allowed}
