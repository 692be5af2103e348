"""The UI's HTTP side as a small ASGI app (served by hypercorn's trio worker).

Routes (GET, and HEAD for files):

* ``/`` and ``/<file>``: the UI; ``/vendor/<lib>/...``: browser libraries from node_modules
* ``/health``: ``{"status", "clients", "machines", "events_relayed", "dropped", "invalid", ...}``;
  with a runtime's PostgreSQL store, its connection as ``"database"`` (``connected``,
  ``waiting_since``, ``retries``, ``last_error``, ``queued``) and, while writes wait for a
  lost server, ``"status": "waiting for the database"``
* ``/api/config``: ``{"websocket_url", "websocket_port", "ui_port", "database"}``, the WebSocket
  address as seen from the browser (the host it used to reach this server), and whether the
  store endpoints have a database to read
* ``/api/machines``, ``/api/machines/{name}[/history]``, ``/api/activity``, ``/api/jobs``,
  ``/api/jobs/stats``, ``/api/jobs/{id}``, ``/api/search``, ``/api/audit``: the store
  (``_api_reads``); ``/api/machines/live``: the hub's machine table; ``/api/configs``: known
  configs
* ``/api/diagram/<config_type>/metadata``, ``/api/diagram/<config_type>/<diagram>`` (the
  published package's shapes), ``/api/diagram/<config_type>`` (its old single-diagram shape)

Routes (POST, the operator actions of ``_api_actions``): each needs the write token as
``Authorization: Bearer TOKEN`` (401 without it) and a request from a foreign ``Origin`` is
refused (403), before anything is read or done.

Errors are JSON ``{"error": ...}`` with what is available where that helps.

When the monitor requires a token (see ``_token``), every route but ``/health`` answers 401
without it; a request that carries it in the query (the link printed at start) also gets
the cookie that lets the page's own requests and WebSocket carry it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs
import trio

from statemachine_engine.errors import ConfigError
from statemachine_engine.monitor._api_actions import ActionApi, Deliver, deliver_in_thread
from statemachine_engine.monitor._api_reads import NO_DATABASE, ReadApi
from statemachine_engine.monitor._catalog import ConfigCatalog, DiagramSet, valid_name
from statemachine_engine.monitor._hub import MonitorHub
from statemachine_engine.monitor._origin import host_allowed, host_of, origin_allowed
from statemachine_engine.monitor._responses import Response as _Response
from statemachine_engine.monitor._responses import error as _error
from statemachine_engine.monitor._static import UI_DIR, content_type, static_file
from statemachine_engine.monitor._token import bearer_accepted, set_cookie, token_accepted
from statemachine_engine.monitor._ws import EVENTS_PATH

if TYPE_CHECKING:
    from statemachine_engine.persistence import Browse

__all__ = ["MonitorApp"]

logger = logging.getLogger(__name__)

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

_NEEDS_TOKEN = (
    "this monitor needs its token: open the link it printed at start (.../?token=...), "
    "or send 'Authorization: Bearer TOKEN'"
)
_NEEDS_WRITE_TOKEN = (
    "this action needs the monitor's write token as 'Authorization: Bearer TOKEN' (it is in "
    "the link printed at start, after #token=, and in the token file named there)"
)
#: the largest request body an action takes
MAX_BODY = 1 << 20


class MonitorApp:
    """ASGI application of the monitor UI.

    ``websocket_port`` is the port the browser is told to connect to (the in-process WebSocket
    server's, or an external monitor's); ``ui_port`` is reported in ``/api/config``.
    ``token``: the token every read but ``/health`` needs (``None``: none needed).
    ``browse``: the database the store endpoints read (``None``: they answer 503).
    ``write_token``: the token every action needs (``None``: actions are refused);
    ``deliver`` sends their events (default: the machines' control sockets).
    """

    def __init__(
        self,
        hub: MonitorHub,
        catalog: ConfigCatalog | None = None,
        *,
        websocket_port: int = 3002,
        ui_port: int = 3001,
        ui_dir: Path = UI_DIR,
        bind_host: str = "127.0.0.1",
        allowed_hosts: Collection[str] = (),
        token: str | None = None,
        browse: Browse | None = None,
        write_token: str | None = None,
        deliver: Deliver | None = None,
    ) -> None:
        self.hub = hub
        self.token = token
        self.write_token = write_token
        self.reads = ReadApi(browse, hub)
        self.actions = ActionApi(browse, deliver or deliver_in_thread()) if browse else None
        self.catalog = catalog or ConfigCatalog()
        self.websocket_port = websocket_port
        self.ui_port = ui_port
        self.ui_dir = ui_dir
        self.bind_host = bind_host
        self.allowed_hosts = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "http":
            method = scope["method"]
            if method == "POST":
                response = await self._post(scope, receive)
            elif method not in ("GET", "HEAD"):
                response = _error(405, f"method {method} not allowed; use GET (POST for actions)")
            else:
                response = await self._route(scope)
            await response.send(send, head=method == "HEAD")
        elif kind == "websocket":
            # The event stream is served by the WebSocket server, not here.
            await send({"type": "websocket.close", "code": 1008})

    async def _route(self, scope: Scope) -> _Response:
        host = _header(scope, b"host")
        if not host_allowed(host, bind_host=self.bind_host, allowed=self.allowed_hosts):
            return _error(
                403,
                f"this server does not answer to host {host_of(host)!r}; "
                "allow it with --allow-origin",
            )
        path: str = scope["path"]
        parts = [p for p in path.split("/") if p]
        if parts == ["health"]:
            return self._health()
        headers = {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in scope.get("headers", ())
        }
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        if not token_accepted(self.token, headers, query):
            return _Response(
                401,
                json.dumps({"error": _NEEDS_TOKEN}).encode(),
                "application/json",
                headers=((b"www-authenticate", b"Bearer"),),
            )
        if parts[:1] == ["api"]:
            response = await self._api(parts[1:], scope)
        else:
            response = await self._static(path)
        if self.token is not None and token_accepted(self.token, {}, query):
            cookie = set_cookie(self.token, self.ui_port).encode()
            response = attrs.evolve(response, headers=((b"set-cookie", cookie),))
        return response

    async def _post(self, scope: Scope, receive: Receive) -> _Response:
        """An operator action: Host, Origin and the write token are checked before the body
        is read; nothing is done, or audited, for a request that fails them."""
        host = _header(scope, b"host")
        if not host_allowed(host, bind_host=self.bind_host, allowed=self.allowed_hosts):
            return _error(403, f"this server does not answer to host {host_of(host)!r}")
        parts = [p for p in str(scope["path"]).split("/") if p]
        if parts[:1] != ["api"]:
            return _error(405, "method POST not allowed here; actions are under /api/")
        origin = _header(scope, b"origin")
        if not origin_allowed(
            origin, host_header=host, bind_host=self.bind_host, allowed=self.allowed_hosts
        ):
            return _error(
                403,
                f"actions from the page at {origin!r} are refused; allow it with --allow-origin",
            )
        headers = {
            bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in scope.get("headers", ())
        }
        if self.write_token is None:
            return _error(
                403, "this monitor takes no actions (it was started without a write token)"
            )
        if not bearer_accepted(self.write_token, headers):
            return _Response(
                401,
                json.dumps({"error": _NEEDS_WRITE_TOKEN}).encode(),
                "application/json",
                headers=((b"www-authenticate", b"Bearer"),),
            )
        if self.actions is None:
            return _error(503, NO_DATABASE)
        body = await _read_body(receive)
        if body is None:
            return _error(413, f"the request body is larger than {MAX_BODY} bytes")
        client = scope.get("client") or ("?", 0)
        response = await self.actions.route(parts[1:], body, actor=f"ui:{client[0]}")
        if response is None:
            return _error(404, f"no action POST /api/{'/'.join(parts[1:])}")
        return response

    async def _api(self, parts: list[str], scope: Scope) -> _Response:
        if parts == ["config"]:
            return self._config(scope)
        query = dict(
            parse_qsl(
                bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True
            )
        )
        stored = await self.reads.route(parts, query)
        if stored is not None:
            return stored
        if parts == ["configs"]:
            configs = await self.catalog.configs()
            return _Response.json(
                [{"config_type": name, "path": str(path)} for name, path in configs.items()]
            )
        if parts[:1] == ["diagram"] and 2 <= len(parts) <= 3:
            return await self._diagram(parts[1], parts[2] if len(parts) == 3 else None)
        if parts == ["events"]:
            return _error(410, f"server-sent events were replaced by the WebSocket {EVENTS_PATH}")
        return _error(404, f"no API endpoint /api/{'/'.join(parts)}")

    def _health(self) -> _Response:
        stats = self.hub.stats()
        body: dict[str, Any] = {}
        # a store with a connection (PostgreSQL's): a lost server's wait is seen here
        connection = getattr(self.hub.store, "connection", None)
        if isinstance(connection, Mapping):
            body["database"] = dict(connection)
        waiting = bool(body) and not body["database"].get("connected", True)
        return _Response.json(
            body
            | {
                "status": "waiting for the database" if waiting else "ok",
                "clients": stats.clients,
                "machines": stats.machines,
                "events_relayed": stats.events_relayed,
                "dropped": stats.dropped,
                "invalid": stats.invalid,
                "slow_disconnects": stats.slow_disconnects,
                "resyncs": stats.resyncs,
                "last_event_time": stats.last_event_time,
            }
        )

    def _config(self, scope: Scope) -> _Response:
        host = host_of(_header(scope, b"host")) or "localhost"
        shown = f"[{host}]" if ":" in host else host
        return _Response.json(
            {
                "websocket_url": f"ws://{shown}:{self.websocket_port}{EVENTS_PATH}",
                "websocket_port": self.websocket_port,
                "ui_port": self.ui_port,
                # the page asks the store endpoints only when they can answer (a 503 is
                # an error in the browser's console)
                "database": self.actions is not None,
            }
        )

    async def _diagram(self, name: str, diagram: str | None) -> _Response:
        for part in (name, diagram):
            if part is not None and not valid_name(part):
                return _error(400, f"invalid name in diagram path: {part!r}")
        found = await self.catalog.resolve(name)
        if found is None:
            available = list(await self.catalog.configs(rescan=False))
            return _error(
                404,
                f"Machine not found: {name}",
                available=available,
                hint="start the UI with --project-root DIR or --config FILE naming its YAML",
            )
        config_type, file = found
        try:
            diagrams = await self.catalog.diagrams(config_type, file)
        except ConfigError as exc:
            logger.warning("cannot draw %s: %s", file, exc)
            return _error(422, f"Invalid configuration for {config_type}", details=str(exc))
        if diagram is None:
            return _Response.json(
                {"machine_name": config_type, "diagram": diagrams.diagrams.get("main", "")}
            )
        if diagram == "metadata":
            return _Response.json(dict(diagrams.metadata))
        return self._one_diagram(diagrams, diagram)

    def _one_diagram(self, diagrams: DiagramSet, name: str) -> _Response:
        code = diagrams.diagrams.get(name)
        if code is None:
            return _error(
                404,
                f"Diagram not found: {name}",
                available_diagrams=sorted(diagrams.diagrams),
                machine_name=diagrams.config_type,
            )
        return _Response.json(
            {
                "machine_name": diagrams.config_type,
                "diagram_name": name,
                "mermaid_code": code,
                "metadata": dict(diagrams.metadata),
            }
        )

    async def _static(self, path: str) -> _Response:
        file = static_file(path, self.ui_dir)
        if file is None:
            return _error(404, f"not found: {path}")
        try:
            body = await trio.Path(file).read_bytes()
        except OSError as exc:
            logger.warning("cannot read %s: %s", file, exc)
            return _error(500, f"cannot read {path}")
        kind = content_type(file) or "application/octet-stream"
        # Library files change only with package-lock.json; the app's own files on edit.
        cache = "public, max-age=3600" if "node_modules" in file.parts else "no-cache"
        return _Response(200, body, kind, cache)


async def _read_body(receive: Receive) -> bytes | None:
    """The request body; None when it is larger than :data:`MAX_BODY`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message.get("type") != "http.request":
            return b"".join(chunks)
        chunk = bytes(message.get("body", b""))
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
