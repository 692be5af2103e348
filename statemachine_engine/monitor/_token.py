"""The monitor's read token: who may read the machines, their states, contexts and payloads.

A monitor that listens on loopback needs no token unless one is given: every local user can
read it (the ``Origin`` and ``Host`` checks stop only other web pages). One that listens on
any other address requires a token for every read (the WebSocket, the HTTP API, the UI
page); it is the one given (``--token``, ``$STATEMACHINE_UI_TOKEN``) or one generated at
start and printed once, in the UI's link.

A client presents it as ``Authorization: Bearer TOKEN``, as a ``token`` query parameter, or
as the cookie the UI page sets when it is opened with ``?token=TOKEN`` (so the page's own
requests and its WebSocket carry it without the token in any script).

Writes (the operator actions, ``POST /api/...``) always need a token, on loopback too, and
only as ``Authorization: Bearer TOKEN`` (never a cookie, which another page's form could
make the browser send). It is the read token when there is one, else one generated at start
and saved in a file only its owner can read (:func:`save_write_token`), whose path the
start-up line prints; the UI's link carries it in its fragment (``#token=``), which the
browser never sends to a server.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import parse_qs

from statemachine_engine.monitor._origin import is_loopback

__all__ = [
    "TOKEN_COOKIE",
    "TOKEN_ENV",
    "bearer_accepted",
    "choose_token",
    "choose_write_token",
    "save_write_token",
    "set_cookie",
    "token_accepted",
    "token_in_query",
]

TOKEN_ENV = "STATEMACHINE_UI_TOKEN"
#: the cookie's name starts with this; the UI port follows, so that two monitors on one
#: host (cookies are shared between the ports of a host) do not overwrite each other's
TOKEN_COOKIE = "statemachine_ui_token"


def choose_token(host: str, given: str | None = None) -> str | None:
    """The token a monitor bound to ``host`` requires: ``given``, else
    ``$STATEMACHINE_UI_TOKEN``, else a new random one when ``host`` is not loopback;
    ``None`` (no token) on loopback when none was given."""
    token = given or os.environ.get(TOKEN_ENV) or None
    if token is not None:
        return token
    if is_loopback(host.strip("[]")):
        return None
    return secrets.token_urlsafe(24)


def token_in_query(query: str) -> str | None:
    """The ``token`` parameter of a URL's query string, if there is one."""
    values = parse_qs(query).get("token")
    return values[0] if values else None


def token_accepted(expected: str | None, headers: Mapping[str, str], query: str) -> bool:
    """Whether a request with these (lower-case) ``headers`` and ``query`` may read:
    always when no token is required, else when any of its credentials is the token."""
    if expected is None:
        return True
    # compared in constant time: the answer's timing says nothing about the token
    wanted = expected.encode()
    return any(hmac.compare_digest(given.encode(), wanted) for given in _presented(headers, query))


def set_cookie(token: str, port: int) -> str:
    """The ``Set-Cookie`` value that lets the UI page's requests and WebSocket carry the
    token: not readable by scripts, sent only by pages of the same site."""
    return f"{TOKEN_COOKIE}_{port}={token}; Path=/; HttpOnly; SameSite=Strict"


def _presented(headers: Mapping[str, str], query: str) -> Iterator[str]:
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        yield credentials.strip()
    in_query = token_in_query(query)
    if in_query:
        yield in_query
    for pair in headers.get("cookie", "").split(";"):
        name, _, value = pair.strip().partition("=")
        if name.startswith(TOKEN_COOKIE) and value:
            yield value


def choose_write_token(read_token: str | None) -> tuple[str, bool]:
    """The token writes need, and whether it was generated here: the read token (given or
    generated for a non-loopback host) when there is one, else a new random one."""
    if read_token is not None:
        return read_token, False
    return secrets.token_urlsafe(24), True


def bearer_accepted(expected: str, headers: Mapping[str, str]) -> bool:
    """Whether a request's ``Authorization: Bearer`` header (lower-case ``headers``) carries
    ``expected``, compared in constant time."""
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return False
    return hmac.compare_digest(credentials.strip().encode(), expected.encode())


def token_folder() -> Path:
    """Where write tokens are saved: ``$XDG_RUNTIME_DIR/statemachine-engine`` (a per-user
    folder that lives as long as the login), else ``~/.local/state/statemachine-engine``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return Path(runtime) / "statemachine-engine"
    return Path.home() / ".local" / "state" / "statemachine-engine"


def save_write_token(token: str, port: int, folder: Path | None = None) -> Path:
    """Write ``token`` to ``ui-<port>.token`` in ``folder`` (default :func:`token_folder`),
    readable by its owner only (the folder too: 0700); returns the file's path."""
    where = folder or token_folder()
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(where, 0o700)
    path = where / f"ui-{port}.token"
    # replaced, not rewritten in place: a file (or a link) someone else left there is not
    # followed, and the new file is owner-only from its first byte
    spare = where / f".ui-{port}.{secrets.token_hex(4)}.tmp"
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
    finally:
        os.close(fd)
    os.replace(spare, path)
    return path
