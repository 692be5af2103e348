"""The read token: required off loopback (generated when none is given), optional on it;
accepted as a bearer header, a query parameter or the cookie the UI page sets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from trio_websocket import ConnectionRejected, wrap_client_stream

from statemachine_engine.monitor import MonitorApp, MonitorHub, MonitorServer, serve_monitor
from statemachine_engine.monitor._token import (
    TOKEN_COOKIE,
    TOKEN_ENV,
    bearer_accepted,
    choose_token,
    choose_write_token,
    save_write_token,
    token_accepted,
)
from statemachine_engine.transport import MachineEvent

TOKEN = "s3cret-token"


def test_choose_token() -> None:
    assert choose_token("127.0.0.1") is None
    assert choose_token("localhost") is None
    assert choose_token("::1") is None
    assert choose_token("127.0.0.1", "mine") == "mine"
    made = choose_token("0.0.0.0")
    assert made is not None and len(made) >= 32
    assert choose_token("0.0.0.0") != made  # a new one each start
    assert choose_token("192.168.1.5", "mine") == "mine"


def test_choose_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert choose_token("127.0.0.1") == "from-env"
    assert choose_token("0.0.0.0") == "from-env"
    assert choose_token("0.0.0.0", "flag") == "flag"


@pytest.mark.parametrize(
    ("headers", "query", "ok"),
    [
        ({}, "", False),
        ({"authorization": f"Bearer {TOKEN}"}, "", True),
        ({"authorization": f"bearer  {TOKEN} "}, "", True),
        ({"authorization": "Bearer wrong"}, "", False),
        ({"authorization": f"Basic {TOKEN}"}, "", False),
        ({}, f"token={TOKEN}", True),
        ({}, f"a=1&token={TOKEN}", True),
        ({}, "token=wrong", False),
        ({"cookie": f"x=1; statemachine_ui_token_3001={TOKEN}"}, "", True),
        ({"cookie": "statemachine_ui_token_3001=wrong"}, "", False),
        ({"cookie": f"other={TOKEN}"}, "", False),
        ({}, "token=%C3%A9", False),  # not ASCII: refused, no error
    ],
)
def test_token_accepted(headers: dict[str, str], query: str, ok: bool) -> None:
    assert token_accepted(TOKEN, headers, query) is ok
    assert token_accepted(None, headers, query) is True


async def asgi(
    app: MonitorApp, path: str, query: str = "", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = [(b"host", b"192.168.1.5:3001")]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": query.encode(),
        "headers": raw,
    }
    await app(scope, receive, send)
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


@pytest.fixture
def app() -> MonitorApp:
    hub = MonitorHub()
    hub.publish(MachineEvent("secret_machine", "machine_registered", {"current_state": "a"}, 1.0))
    return MonitorApp(hub, bind_host="192.168.1.5", ui_port=3001, token=TOKEN)


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/api/machines", "/api/config"])
async def test_http_reads_need_the_token(app: MonitorApp, path: str) -> None:
    status, headers, body = await asgi(app, path)
    assert status == 401
    assert headers["www-authenticate"] == "Bearer"
    assert b"secret_machine" not in body
    assert b"token" in body
    assert (await asgi(app, path, "token=wrong"))[0] == 401
    bearer = {"authorization": f"Bearer {TOKEN}"}
    assert (await asgi(app, path, headers=bearer))[0] == 200


async def test_health_needs_no_token(app: MonitorApp) -> None:
    status, _, body = await asgi(app, "/health")
    assert status == 200
    assert b"secret_machine" not in body


async def test_page_opened_with_the_token_sets_the_cookie_its_requests_carry(
    app: MonitorApp,
) -> None:
    status, headers, _ = await asgi(app, "/", f"token={TOKEN}")
    assert status == 200
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"statemachine_ui_token_3001={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # the page's own fetches send the cookie back
    pair = cookie.split(";", 1)[0]
    status, _, body = await asgi(app, "/api/machines/live", headers={"cookie": pair})
    assert status == 200
    assert json.loads(body)[0]["machine_name"] == "secret_machine"


async def test_no_token_on_loopback_changes_nothing() -> None:
    app = MonitorApp(MonitorHub(), bind_host="192.168.1.5", token=None)
    status, headers, _ = await asgi(app, "/api/machines")
    assert status == 200
    assert "set-cookie" not in headers


@asynccontextmanager
async def monitor(host: str, token: str | None = None) -> AsyncIterator[MonitorServer]:
    async with trio.open_nursery() as nursery:
        server: MonitorServer = await nursery.start(
            lambda task_status: serve_monitor(
                host=host, ui_port=0, websocket_port=0, token=token, task_status=task_status
            )
        )
        server.hub.publish(
            MachineEvent("secret_machine", "machine_registered", {"current_state": "a"}, 1.0)
        )
        yield server
        nursery.cancel_scope.cancel()


async def raw_get(port: int, target: str, headers: str = "") -> tuple[int, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}\r\n"
        )
        await stream.send_all(request.encode())
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


async def handshake(port: int, target: str, headers: list[tuple[str, str]] | None = None) -> str:
    """The first message of a WebSocket on ``target``; raises ConnectionRejected."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream, trio.open_nursery() as nursery:
        ws = await wrap_client_stream(
            nursery, stream, "127.0.0.1", target, extra_headers=headers or []
        )
        message = await ws.get_message()
        await ws.aclose()
        nursery.cancel_scope.cancel()
        return str(message)


async def refused(port: int, target: str, headers: list[tuple[str, str]] | None = None) -> int:
    """The HTTP status a handshake is refused with (fails when it is accepted)."""
    statuses: list[int] = []
    try:
        await handshake(port, target, headers)
    except* ConnectionRejected as group:
        statuses = [e.status_code for e in group.exceptions if isinstance(e, ConnectionRejected)]
    assert len(statuses) == 1, "the handshake was accepted"
    return statuses[0]


async def test_a_monitor_off_loopback_generates_a_token_and_requires_it() -> None:
    with trio.fail_after(20):
        # 0.0.0.0 is not loopback; the test reaches it through 127.0.0.1
        async with monitor("0.0.0.0") as server:
            token = server.token
            assert token is not None
            # the read token sets the page's cookie; writes need the same token
            assert server.write_token == token
            assert server.ui_link == f"{server.ui_url}/?token={token}"
            assert server.action_link == f"{server.ui_url}/?token={token}#token={token}"
            assert server.websocket is not None
            ws_port = server.websocket.port
            assert server.ui_port is not None

            # the WebSocket: refused without the token, served with it
            assert await refused(ws_port, "/ws/events") == 401
            assert await refused(ws_port, "/ws/events", [("Authorization", "Bearer wrong")]) == 401
            assert await refused(ws_port, "/ws/events?token=wrong") == 401
            for target, headers in [
                (f"/ws/events?token={token}", []),
                ("/ws/events", [("Authorization", f"Bearer {token}")]),
                ("/ws/events", [("Cookie", f"statemachine_ui_token_3001={token}")]),
            ]:
                first = json.loads(await handshake(ws_port, target, headers))
                assert first["type"] == "initial"
                assert first["machines"][0]["machine_name"] == "secret_machine"

            # plain HTTP on the WebSocket port: /initial needs it, /health does not
            status, body = await raw_get(ws_port, "/initial")
            assert status == 401 and b"secret_machine" not in body
            assert (await raw_get(ws_port, f"/initial?token={token}"))[0] == 200
            assert (await raw_get(ws_port, "/health"))[0] == 200

            # the UI server, through hypercorn
            status, body = await raw_get(server.ui_port, "/api/machines")
            assert status == 401 and b"secret_machine" not in body
            status, body = await raw_get(
                server.ui_port, "/api/machines", f"Authorization: Bearer {token}\r\n"
            )
            assert status == 200 and b"secret_machine" in body


async def test_a_monitor_on_loopback_needs_a_token_only_when_given() -> None:
    with trio.fail_after(20):
        async with monitor("127.0.0.1") as server:
            assert server.token is None
            # no read token; the generated write token rides in the fragment only
            assert server.write_token is not None
            assert server.ui_link == server.ui_url
            assert server.action_link == f"{server.ui_url}/#token={server.write_token}"
            assert server.websocket is not None
            first = json.loads(await handshake(server.websocket.port, "/ws/events"))
            assert first["type"] == "initial"
        async with monitor("127.0.0.1", token=TOKEN) as server:
            assert server.websocket is not None
            assert await refused(server.websocket.port, "/ws/events") == 401
            first = json.loads(await handshake(server.websocket.port, f"/ws/events?token={TOKEN}"))
            assert first["type"] == "initial"


# trio-websocket leaves the socket of a refused handshake unclosed (the command then exits 1,
# which closes it); the warning of that socket is its, not ours
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_statemachine_events_follows_a_monitor_with_its_token() -> None:
    from statemachine_engine.errors import TransportError
    from statemachine_engine.tools._events_monitor import follow

    seen: list[dict[str, Any]] = []
    with trio.fail_after(20):
        async with monitor("127.0.0.1", token=TOKEN) as server:
            assert server.websocket is not None
            port = server.websocket.port
            with pytest.raises(TransportError, match="needs its token"):
                await follow(
                    seen.append,
                    host="127.0.0.1",
                    port=port,
                    event_socket_path="/nonexistent/e.sock",
                    announce=lambda text: None,
                )
            with trio.move_on_after(1):
                await follow(
                    seen.append,
                    host="127.0.0.1",
                    port=port,
                    event_socket_path="/nonexistent/e.sock",
                    announce=lambda text: None,
                    token=TOKEN,
                )
    assert seen and seen[0]["type"] == "initial"
    assert seen[0]["machines"][0]["machine_name"] == "secret_machine"
    import gc

    gc.collect()  # the refused handshake's socket is finalised here, under this test's filters


def test_the_write_token_is_the_read_token_else_a_new_one() -> None:
    assert choose_write_token("given") == ("given", False)
    token, generated = choose_write_token(None)
    assert generated and len(token) >= 32
    assert choose_write_token(None)[0] != token


def test_writes_take_the_token_only_as_a_bearer_header() -> None:
    assert bearer_accepted(TOKEN, {"authorization": f"Bearer {TOKEN}"})
    assert bearer_accepted(TOKEN, {"authorization": f"bearer  {TOKEN} "})
    assert not bearer_accepted(TOKEN, {"authorization": "Bearer nope"})
    assert not bearer_accepted(TOKEN, {"authorization": f"Basic {TOKEN}"})
    assert not bearer_accepted(TOKEN, {"cookie": f"{TOKEN_COOKIE}_3001={TOKEN}"})


def test_a_generated_write_token_is_saved_for_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "tokens"
    path = save_write_token("t0ken", 3001, folder)
    assert path == folder / "ui-3001.token"
    assert path.read_text() == "t0ken\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    # a link left in its place is replaced, not followed
    path.unlink()
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    path.symlink_to(target)
    save_write_token("again", 3001, folder)
    assert target.read_text() == "keep"
    assert path.read_text() == "again\n" and not path.is_symlink()
    assert [p.name for p in folder.iterdir()] == ["ui-3001.token"]
