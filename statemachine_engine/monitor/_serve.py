"""Running the monitor: the hub, its event-socket listener, the WebSocket and the UI's HTTP
server, all as tasks of one trio process (or of a runtime that hosts them)."""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

from statemachine_engine.errors import TransportError, sole_error
from statemachine_engine.monitor._catalog import ConfigCatalog
from statemachine_engine.monitor._http import MonitorApp
from statemachine_engine.monitor._hub import MonitorHub, Registry
from statemachine_engine.monitor._token import choose_token, choose_write_token, save_write_token
from statemachine_engine.monitor._ws import WebSocketMonitor, serve_websocket
from statemachine_engine.transport import EventListener, FanoutPublisher, MachineEvent, Publisher

if TYPE_CHECKING:
    from statemachine_engine.persistence import Browse

__all__ = ["MonitorServer", "embedded_monitor", "serve_monitor"]

logger = logging.getLogger(__name__)


@attrs.frozen
class MonitorServer:
    """What :func:`serve_monitor` hands to ``nursery.start``: the hub, where each part
    listens (``None`` for a part that was not asked for), the token reads need (``None``:
    none), the token actions need (``None``: no UI server) and the file it was saved in
    when it was generated (``None`` when it was given)."""

    hub: MonitorHub
    websocket: WebSocketMonitor | None
    ui_url: str | None
    ui_port: int | None
    event_socket_path: str | None
    token: str | None = None
    write_token: str | None = None
    token_file: str | None = None

    @property
    def ui_link(self) -> str | None:
        """The UI's address to open, with the token when one is needed (print it once: it
        is the key to every machine's state and payloads)."""
        if self.ui_url is None or self.token is None:
            return self.ui_url
        return f"{self.ui_url}/?token={quote(self.token, safe='')}"

    @property
    def action_link(self) -> str | None:
        """:attr:`ui_link` with the write token in its fragment (``#token=``), which no
        request carries: the page that opens it can act. Print it once."""
        link = self.ui_link
        if link is None or self.write_token is None:
            return link
        base = link if "?" in link else f"{link.rstrip('/')}/"
        return f"{base}#token={quote(self.write_token, safe='')}"

    @property
    def websocket_link(self) -> str | None:
        """The WebSocket's address, with the token when one is needed."""
        if self.websocket is None or self.token is None:
            return self.websocket.url if self.websocket else None
        return f"{self.websocket.url}?token={quote(self.token, safe='')}"


async def serve_monitor(
    hub: MonitorHub | None = None,
    *,
    host: str = "127.0.0.1",
    ui_port: int | None = 3001,
    websocket_port: int | None = 3002,
    event_socket_path: str | None = None,
    store: Registry | None = None,
    project_root: str | Path | None = None,
    configs: Sequence[str | Path] = (),
    allowed_origins: Collection[str] = (),
    keepalive: float = 10.0,
    browser_websocket_port: int | None = None,
    flags: Mapping[str, str] | None = None,
    token: str | None = None,
    browse: Browse | None = None,
    write_token: str | None = None,
    token_folder: Path | None = None,
    task_status: trio.TaskStatus[MonitorServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the monitor until cancelled; ``await nursery.start(serve_monitor, ...)`` returns
    a :class:`MonitorServer` once every part is listening.

    * ``hub``: pass one to publish into it in-process (it is a Publisher: give it to
      ``open_runtime(publisher=...)``); otherwise one is made.
    * ``event_socket_path``: also listen there for events from other processes.
    * ``websocket_port`` / ``ui_port``: ``None`` leaves that server out; ``0`` picks a port.
    * ``browser_websocket_port``: the WebSocket port the UI is told to use when this process
      serves none (``statemachine-ui --no-websocket``); default 3002.
    * ``store``: seeds the machine table from its registry at start.
    * ``project_root`` / ``configs``: where the YAML files behind the diagrams are.
    * ``flags``: the caller's command-line flag for the address of each part (keys
      ``event_socket``, ``websocket``, ``ui``), named in the error when that part's address
      is taken.
    * ``token``: what every read but ``/health`` needs (``--token``); without one,
      ``$STATEMACHINE_UI_TOKEN``, else a new one when ``host`` is not loopback, else none.
      It is in the returned :attr:`MonitorServer.token` and ``ui_link``.
    * ``browse``: the database of the store endpoints and the operator actions.
    * ``write_token``: what the actions need; default the read token, else a new one saved
      in an owner-only file in ``token_folder`` (default: see ``_token.token_folder``).
    """
    flags = flags or {}
    token = choose_token(host, token)
    generated = False
    if write_token is None and ui_port is not None:
        write_token, generated = choose_write_token(token)
    if hub is None:
        hub = MonitorHub(store=store)
    elif store is not None and hub.store is None:
        hub.store = store
    await hub.seed()
    try:
        async with trio.open_nursery() as nursery:
            listening_on = None
            if event_socket_path is not None:
                listen = partial(
                    _listen, hub, event_socket_path, other=flags.get("event_socket", "path")
                )
                listening_on = await _start(
                    nursery, f"event socket {event_socket_path}", listen, "path"
                )
            ws = None
            if websocket_port is not None:
                ws = await _start(
                    nursery,
                    f"WebSocket server on {host}:{websocket_port}",
                    partial(
                        serve_websocket,
                        hub,
                        host,
                        websocket_port,
                        allowed_origins=allowed_origins,
                        keepalive=keepalive,
                        event_socket_active=partial(bool, listening_on is not None),
                        token=token,
                    ),
                    flags.get("websocket", "port"),
                )
            ui_url = None
            actual_ui_port = None
            if ui_port is not None:
                app = MonitorApp(
                    hub,
                    ConfigCatalog(project_root=project_root, configs=configs),
                    websocket_port=ws.port if ws else (browser_websocket_port or 3002),
                    bind_host=host,
                    allowed_hosts=allowed_origins,
                    token=token,
                    browse=browse,
                    write_token=write_token,
                )
                http = partial(_serve_http, app, host, ui_port)
                ui_url, actual_ui_port = await _start(
                    nursery, f"UI server on {host}:{ui_port}", http, flags.get("ui", "port")
                )
                app.ui_port = actual_ui_port
                logger.info("monitor UI at %s", ui_url)
            token_file = None
            if generated and write_token is not None and actual_ui_port is not None:
                saved = save_write_token(write_token, actual_ui_port, token_folder)
                token_file = str(saved)
            task_status.started(
                MonitorServer(
                    hub, ws, ui_url, actual_ui_port, listening_on, token, write_token, token_file
                )
            )
    except BaseExceptionGroup as group:
        # A server that cannot listen is one plain error for the caller to report.
        raise sole_error(group, TransportError) from None
    finally:
        hub.close()


async def _start(
    nursery: trio.Nursery, what: str, task: Callable[..., Awaitable[Any]], flag: str
) -> Any:
    """Start one server; a failure to listen becomes one TransportError saying which, and
    when the address is taken, which ``flag`` chooses another."""
    try:
        return await nursery.start(task)
    except (OSError, BaseExceptionGroup) as exc:
        first = _first_os_error(exc)
        if first is None:
            raise
        if isinstance(first, TransportError):
            raise first from None
        reason = (first.strerror or str(first)).lower()
        hint = ""
        if first.errno == errno.EADDRINUSE:
            hint = f" (another server listens there: stop it, or choose another {flag})"
        raise TransportError(f"cannot start the {what}: {reason}{hint}") from None


def _first_os_error(exc: BaseException) -> OSError | None:
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _first_os_error(inner)
            if found is not None:
                return found
    return None


def embedded_monitor(
    *,
    host: str = "127.0.0.1",
    ui_port: int | None = 3001,
    websocket_port: int | None = 3002,
    event_socket_path: str | None = None,
    project_root: str | Path | None = None,
    configs: Sequence[str | Path] = (),
    allowed_origins: Collection[str] = (),
    flags: Mapping[str, str] | None = None,
    announce: Callable[[MonitorServer], None] | None = None,
    token: str | None = None,
    db: str | None = None,
) -> Callable[[Registry | None, Publisher | None, trio.Nursery], Awaitable[Publisher]]:
    """The monitor as a part of a runtime process (``statemachine CONFIG --monitor``,
    ``statemachine run``), started before the runtime is built.

    Returns ``start(store, publisher, nursery)``: it seeds a hub from ``store``, starts the
    WebSocket and UI servers (and, with ``event_socket_path``, the event-socket listener) in
    ``nursery``, tells ``announce`` where they listen, and returns the publisher to build
    the runtime with: the hub, so that the machines publish into it in-process, next to
    ``publisher`` (the event socket's, for a monitor elsewhere) when there is one. Its
    arguments as for :func:`serve_monitor`. Without ``announce``, a monitor that needs a
    token prints its link (with the token) on standard output, once. The store endpoints
    and actions use the runtime's store when it can browse, else the database file ``db``.
    """

    async def start(
        store: Registry | None, publisher: Publisher | None, nursery: trio.Nursery
    ) -> Publisher:
        from statemachine_engine.persistence import Browse, browse_file

        hub = MonitorHub(store=store)
        browse = getattr(store, "browse", None)
        if not isinstance(browse, Browse):
            # a store that does not browse (a test's): the database file or URL ``db``
            browse = browse_file(db) if db is not None else None
        server: MonitorServer = await nursery.start(
            partial(
                serve_monitor,
                hub,
                host=host,
                ui_port=ui_port,
                websocket_port=websocket_port,
                event_socket_path=event_socket_path,
                project_root=project_root,
                configs=configs,
                allowed_origins=allowed_origins,
                flags=flags,
                token=token,
                browse=browse,
            )
        )
        if announce is not None:
            announce(server)
        elif server.token is not None:
            print(f"monitor: {server.ui_link or server.websocket_link}", flush=True)
        if server.token_file is not None:
            # a generated write token: where the page (and scripts) get it
            print(
                f"monitor actions: {server.action_link} (write token in {server.token_file})",
                flush=True,
            )
        return hub if publisher is None else FanoutPublisher([publisher, hub])

    return start


async def _serve_http(
    app: MonitorApp,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("statemachine_engine.monitor.http")
    config.graceful_timeout = 1.0

    async with trio.open_nursery() as nursery:
        # hypercorn types ASGI messages as TypedDicts; the app speaks plain mappings.
        asgi_app = cast("Any", app)
        binds: list[str] = await nursery.start(
            partial(hypercorn_serve, asgi_app, config, mode="asgi")
        )
        url = binds[0]
        task_status.started((url, int(url.rsplit(":", 1)[1])))


async def _listen(
    hub: MonitorHub,
    path: str,
    *,
    other: str,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Relay events from other processes' publishers on the event socket into the hub
    (``other``: what the user changes to move the path, named when it is in use)."""

    async def relay(event: MachineEvent) -> None:
        hub.publish(event)

    listener = EventListener(relay, path, other=other)
    hub.count_invalid_from(lambda: listener.statistics().invalid)
    async with trio.open_nursery() as nursery:
        await nursery.start(listener.run)
        logger.info("listening for machine events on %s", path)
        task_status.started(path)
