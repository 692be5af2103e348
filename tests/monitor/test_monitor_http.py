"""The UI's ASGI app, called directly (no sockets), and once through hypercorn."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.monitor import ConfigCatalog, MonitorApp, MonitorHub, serve_monitor
from statemachine_engine.monitor._static import UI_DIR, static_file
from statemachine_engine.transport import MachineEvent


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json"
        return json.loads(self.body)


async def call(
    app: MonitorApp, path: str, method: str = "GET", host: str = "127.0.0.1:3001"
) -> Reply:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": b"",
        "headers": [(b"host", host.encode())],
    }
    await app(scope, receive, send)
    start, body = sent
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return Reply(start["status"], headers, body["body"])


@pytest.fixture
def hub() -> MonitorHub:
    hub = MonitorHub()
    hub.publish(
        MachineEvent(
            "worker_001",
            "machine_registered",
            {"current_state": "idle", "config_type": "worker"},
            1.0,
        )
    )
    return hub


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "worker.yaml").write_text(
        "initial_state: idle\nstates: [idle, busy]\n"
        "transitions:\n  - {from: idle, to: busy, event: go}\n"
    )
    (tmp_path / "notes.yaml").write_text("title: not a machine\n")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "hidden.yaml").write_text("initial_state: x\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "controller.yml").write_text("initial_state: a\ntransitions: []\n")
    return tmp_path


async def test_health_counts(hub: MonitorHub) -> None:
    hub.feed_line(b"junk")
    reply = await call(MonitorApp(hub), "/health")
    assert reply.status == 200
    assert reply.json() == {
        "status": "ok",
        "clients": 0,
        "machines": 1,
        "events_relayed": 1,
        "dropped": 0,
        "invalid": 1,
        "slow_disconnects": 0,
        "resyncs": 0,
        "last_event_time": 1.0,
    }


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:3001", "ws://127.0.0.1:4000/ws/events"),
        ("monitor.lan:8080", "ws://monitor.lan:4000/ws/events"),
        ("[::1]:3001", "ws://[::1]:4000/ws/events"),
    ],
)
async def test_api_config_uses_the_request_host(hub: MonitorHub, host: str, url: str) -> None:
    app = MonitorApp(hub, websocket_port=4000, ui_port=3001, bind_host="0.0.0.0")
    assert (await call(app, "/api/config", host=host)).json() == {
        "websocket_url": url,
        "websocket_port": 4000,
        "ui_port": 3001,
        "database": False,
    }


async def test_loopback_server_answers_only_loopback_host_names(hub: MonitorHub) -> None:
    # a page that rebinds its own name to 127.0.0.1 must not read the machines
    rebound = await call(MonitorApp(hub), "/api/machines", host="evil.example:3001")
    assert rebound.status == 403
    assert "--allow-origin" in rebound.json()["error"]
    assert (await call(MonitorApp(hub), "/api/machines", host="localhost:3001")).status == 200
    allowed = MonitorApp(hub, allowed_hosts=["dash.example"])
    assert (await call(allowed, "/api/machines", host="dash.example")).status == 200
    exposed = MonitorApp(hub, bind_host="192.168.1.5")
    assert (await call(exposed, "/api/machines", host="monitor.lan:3001")).status == 200


async def test_api_machines_live_is_the_hub_table(hub: MonitorHub) -> None:
    machines = (await call(MonitorApp(hub), "/api/machines/live")).json()
    assert machines == [
        {
            "machine_name": "worker_001",
            "current_state": "idle",
            "config_type": "worker",
            "last_activity": 1.0,
        }
    ]


async def test_api_machines_without_a_database_lists_the_hub_in_the_store_shape(
    hub: MonitorHub,
) -> None:
    page = (await call(MonitorApp(hub), "/api/machines")).json()
    assert page["counts"] == {"running": 1, "finished": 0, "failed": 0, "stopped": 0, "all": 1}
    assert [(m["name"], m["config"], m["state"], m["status"]) for m in page["machines"]] == [
        ("worker_001", "worker", "idle", "running")
    ]
    assert (await call(MonitorApp(hub), "/api/jobs")).status == 503


async def test_api_configs_scans_project_root(hub: MonitorHub, project: Path) -> None:
    extra = project / "elsewhere.yaml"
    extra.write_text("initial_state: s\n")
    catalog = ConfigCatalog(project_root=project, configs=[extra])
    configs = (await call(MonitorApp(hub, catalog), "/api/configs")).json()
    assert configs == [
        {"config_type": "controller", "path": str(project / "sub" / "controller.yml")},
        {"config_type": "elsewhere", "path": str(extra)},
        {"config_type": "worker", "path": str(project / "worker.yaml")},
    ]


async def test_unknown_config_is_404_with_available_names(hub: MonitorHub, project: Path) -> None:
    app = MonitorApp(hub, ConfigCatalog(project_root=project))
    reply = await call(app, "/api/diagram/nosuch/main")
    assert reply.status == 404
    body = reply.json()
    assert body["error"] == "Machine not found: nosuch"
    assert body["available"] == ["controller", "worker"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/diagram/../main",
        "/api/diagram/.hidden/main",
        "/api/diagram/a b/main",
        "/api/diagram/worker/..",
        "/api/diagram/worker/ma\\in",
    ],
)
async def test_diagram_names_are_validated(hub: MonitorHub, project: Path, path: str) -> None:
    reply = await call(MonitorApp(hub, ConfigCatalog(project_root=project)), path)
    assert reply.status == 400
    assert reply.json()["error"].startswith("invalid name")


async def test_diagrams_are_generated_from_the_yaml(hub: MonitorHub, project: Path) -> None:
    app = MonitorApp(hub, ConfigCatalog(project_root=project))
    meta = (await call(app, "/api/diagram/worker/metadata")).json()
    assert meta["config_type"] == "worker"
    assert "main" in meta["diagrams"]
    main = (await call(app, "/api/diagram/worker/main")).json()
    assert main["machine_name"] == "worker"
    assert main["diagram_name"] == "main"
    assert main["mermaid_code"].startswith("stateDiagram-v2")
    assert "idle --> busy : go" in main["mermaid_code"]
    assert main["metadata"] == meta
    # an instance name finds its template's config
    assert (await call(app, "/api/diagram/worker_003/main")).json()["machine_name"] == "worker"
    old = (await call(app, "/api/diagram/worker")).json()
    assert old == {"machine_name": "worker", "diagram": main["mermaid_code"]}
    missing = await call(app, "/api/diagram/worker/NOPE")
    assert missing.status == 404
    assert missing.json() == {
        "error": "Diagram not found: NOPE",
        "available_diagrams": ["main"],
        "machine_name": "worker",
    }


async def test_diagram_follows_edits_and_reports_invalid_yaml(
    hub: MonitorHub, project: Path
) -> None:
    app = MonitorApp(hub, ConfigCatalog(project_root=project))
    config = project / "worker.yaml"
    assert "done" not in (await call(app, "/api/diagram/worker/main")).json()["mermaid_code"]
    config.write_text(config.read_text() + "  - {from: busy, to: idle, event: done}\n")
    os.utime(config, (1, 1))  # a different mtime, however fast the edit
    assert (
        "busy --> idle : done"
        in (await call(app, "/api/diagram/worker/main")).json()["mermaid_code"]
    )
    config.write_text("initial_state: [oops\n")
    bad = await call(app, "/api/diagram/worker/main")
    assert bad.status == 422
    assert bad.json()["error"] == "Invalid configuration for worker"
    assert "worker.yaml" in bad.json()["details"]


async def test_catalog_resolves_instance_names_to_their_config(project: Path) -> None:
    catalog = ConfigCatalog(project_root=project)
    assert await catalog.resolve("worker") == ("worker", project / "worker.yaml")
    assert await catalog.resolve("worker_007") == ("worker", project / "worker.yaml")
    assert await catalog.resolve("workerx") is None
    # a config added after start is found by the rescan a miss triggers
    (project / "late.yaml").write_text("initial_state: s\n")
    await trio.sleep(1.1)
    assert await catalog.resolve("late") == ("late", project / "late.yaml")


async def test_static_files(hub: MonitorHub) -> None:
    app = MonitorApp(hub)
    index = await call(app, "/")
    assert index.status == 200
    assert index.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert b"<html" in index.body
    head = await call(app, "/", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert int(head.headers["content-length"]) == len(index.body)
    mermaid = await call(app, "/vendor/mermaid/mermaid.esm.min.mjs")
    assert mermaid.status == 200
    assert mermaid.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "path",
    [
        "/../pyproject.toml",
        "/vendor/mermaid/../package.json",
        "/vendor/other/x.js",
        "/node_modules/mermaid/package.json",
        "/package.json",
        "/nosuch.js",
        "/a/b.js",
        "/.hidden.js",
        "/vendor/mermaid/",
    ],
)
async def test_static_paths_outside_the_ui_are_404(hub: MonitorHub, path: str) -> None:
    reply = await call(MonitorApp(hub), path)
    assert reply.status == 404
    assert static_file(path) is None


async def test_other_methods_and_unknown_api(hub: MonitorHub) -> None:
    app = MonitorApp(hub)
    assert (await call(app, "/health", method="POST")).status == 405
    assert (await call(app, "/api/nothing")).status == 404
    assert (await call(app, "/api/events")).status == 410


def test_ui_files_are_present() -> None:
    for name in ("index.html", "app.css", "app.js"):
        assert static_file("/" + name) == UI_DIR / name


async def http_get(port: int, path: str) -> tuple[int, bytes]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_serve_monitor_end_to_end(project: Path) -> None:
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            server = await nursery.start(
                lambda task_status: serve_monitor(
                    ui_port=0, websocket_port=0, project_root=project, task_status=task_status
                )
            )
            assert server.ui_port and server.websocket
            status, body = await http_get(server.ui_port, "/api/config")
            assert status == 200
            assert json.loads(body)["websocket_port"] == server.websocket.port
            server.hub.publish(MachineEvent("m", "machine_registered", {"current_state": "a"}, 1.0))
            status, body = await http_get(server.ui_port, "/health")
            assert json.loads(body)["machines"] == 1
            nursery.cancel_scope.cancel()


async def test_port_in_use_is_one_clear_error() -> None:
    from statemachine_engine.errors import TransportError

    with trio.fail_after(10):
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        try:
            async with trio.open_nursery() as nursery:
                with pytest.raises(TransportError, match=f"WebSocket server on 127.0.0.1:{port}"):
                    await nursery.start(
                        lambda task_status: serve_monitor(
                            ui_port=None, websocket_port=port, task_status=task_status
                        )
                    )
        finally:
            for listener in listeners:
                await listener.aclose()
