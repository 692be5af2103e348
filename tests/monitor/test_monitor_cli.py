"""The monitor's programs as a user runs them: real processes, sockets and signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from trio_websocket import wrap_client_stream

pytestmark = pytest.mark.slow

MONITOR = [sys.executable, "-m", "statemachine_engine.monitor"]
UI = [sys.executable, "-m", "statemachine_engine.cli._ui"]


async def start(command: list[str], expect: int) -> tuple[trio.Process, dict[str, str]]:
    """Start a program and read its ``Name: url`` banner lines."""
    proc = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    seen: dict[str, str] = {}
    buffer = b""
    while len(seen) < expect:
        chunk = await proc.stdout.receive_some(4096)
        assert chunk, f"{command} exited early"
        buffer += chunk
        *lines, rest = buffer.split(b"\n")
        buffer = rest
        for line in lines:
            name, _, value = line.decode().partition(":")
            seen[name.strip()] = value.strip()
    return proc, seen


async def stop(proc: trio.Process, signum: int = signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(signum)
    code = await proc.wait()
    assert proc.stderr is not None
    err = b""
    while chunk := await proc.stderr.receive_some(65536):
        err += chunk
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            await pipe.aclose()
    return code, err.decode()


async def http_get(url: str) -> tuple[int, bytes]:
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(
            f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_python_m_monitor_relays_the_event_socket(short_dir: Path) -> None:
    path = str(short_dir / "ev.sock")
    with trio.fail_after(30):
        proc, banner = await start([*MONITOR, "--port", "0", "--event-socket-path", path], 2)
        assert banner["Event socket"] == path
        url = banner["WebSocket events"]
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream, trio.open_nursery() as nursery:
            ws = await wrap_client_stream(nursery, stream, "127.0.0.1", "/ws/events")
            assert json.loads(await ws.get_message())["type"] == "initial"
            publisher = await trio.open_unix_socket(path)
            async with publisher:
                await publisher.send_all(
                    b'{"machine_name":"m","type":"state_change","payload":'
                    b'{"from_state":"a","to_state":"b","event_trigger":"go"}}\n'
                )
                event = json.loads(await ws.get_message())
            assert event["machine_name"] == "m"
            assert event["payload"]["to_state"] == "b"
            await ws.aclose()
            nursery.cancel_scope.cancel()
        code, err = await stop(proc)
    assert code == 143, err  # as every command after SIGTERM
    assert not Path(path).exists()


async def test_published_module_path_is_an_alias() -> None:
    result = await trio.run_process(
        [sys.executable, "-m", "statemachine_engine.monitoring.websocket_server", "--help"],
        capture_stdout=True,
    )
    assert b"--event-socket-path" in result.stdout


async def test_statemachine_ui_serves_the_ui_and_diagrams(
    tmp_path: Path, short_dir: Path, token_folder: Path
) -> None:
    config = tmp_path / "job.yaml"
    config.write_text("initial_state: idle\ntransitions:\n  - {from: idle, to: done, event: go}\n")
    command = [*UI, "--ui-port", "0", "--websocket-port", "0", "--config", str(config),
               "--event-socket-path", str(short_dir / "ev.sock")]  # fmt: skip
    with trio.fail_after(30):
        proc, banner = await start(command, 3)
        ui, _, write_token = banner["Monitor UI"].partition("/#token=")
        assert len(write_token) >= 32  # generated: neither --token nor the variable gave one
        assert banner["Write token"].startswith(str(token_folder / "ui-"))
        saved = Path(banner["Write token"].split()[0])
        assert saved.read_text().strip() == write_token
        assert saved.stat().st_mode & 0o777 == 0o600
        status, body = await http_get(ui + "/")
        assert status == 200 and b"State Machine Monitor" in body
        status, body = await http_get(ui + "/api/diagram/job/main")
        assert status == 200
        assert "idle --> done : go" in json.loads(body)["mermaid_code"]
        status, body = await http_get(ui + "/api/config")
        assert json.loads(body)["websocket_url"] == banner["WebSocket events"]
        code, err = await stop(proc, signal.SIGINT)
    assert code == 130, err  # as every command after SIGINT


async def test_statemachine_ui_reports_user_mistakes_without_a_traceback(
    tmp_path: Path, short_dir: Path
) -> None:
    missing = await trio.run_process(
        [*UI, "--config", str(tmp_path / "nope.yaml")], capture_stderr=True, check=False
    )
    assert missing.returncode == 2
    assert b"--config" in missing.stderr and b"no such file" in missing.stderr

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    try:
        busy = await trio.run_process(
            [*UI, "--port", str(port), "--websocket-port", "0", "--project-root", str(tmp_path),
             "--event-socket-path", str(short_dir / "ev.sock")],
            capture_stderr=True, capture_stdout=True, check=False,
        )  # fmt: skip
    finally:
        for listener in listeners:
            await listener.aclose()
    assert busy.returncode == 1
    assert b"Traceback" not in busy.stderr
    assert f"cannot start the UI server on 127.0.0.1:{port}: address already in use".encode() in (
        busy.stderr
    )


async def test_statemachine_ui_off_loopback_prints_its_token_once_and_requires_it(
    short_dir: Path,
) -> None:
    command = [*UI, "--host", "0.0.0.0", "--ui-port", "0", "--websocket-port", "0",
               "--config", str(short_dir / "none.yaml"),
               "--event-socket-path", str(short_dir / "ev.sock")]  # fmt: skip
    (short_dir / "none.yaml").write_text("initial_state: a\ntransitions: []\n")
    with trio.fail_after(30):
        proc, banner = await start(command, 4)
        link = banner["Monitor UI"].replace("0.0.0.0", "127.0.0.1")
        base, _, tokens = link.partition("/?token=")
        token, _, write_token = tokens.partition("#token=")
        assert write_token == token  # the read token guards the actions too
        assert len(token) >= 32
        assert token not in banner["WebSocket events"]
        assert (await http_get(base + "/api/machines"))[0] == 401
        assert (await http_get(f"{base}/api/machines?token={token}"))[0] == 200
        assert (await http_get(f"{base}/?token={token}"))[0] == 200
        code, err = await stop(proc)
    assert code == 143, err
    assert token not in err  # printed once, on standard output; never logged
