"""Monitor fan-out benchmark (issue 5): many WebSocket clients while machines publish fast.

Run: .venv/bin/python bench/bench_monitor.py [--clients 100] [--rate 2000] [--seconds 10]
     [--quick]

Three processes, as in production:

* the monitor: ``statemachine-ui`` (hub, WebSocket and HTTP servers in one trio process),
  started with free ports and its own event socket;
* a publisher: ``SocketEventPublisher`` writing ``--rate`` events/s to the event socket, the
  way a runtime's machines do; every event carries the CLOCK_MONOTONIC instant it was
  published;
* this process: ``--clients`` WebSocket clients that read every frame and record the delay
  from publish to receipt (a small frame parser on a plain socket: trio-websocket's client
  parser would cost more CPU than the server being measured).

Two phases: all clients reading; then the same with one more client that completes the
handshake and never reads (it must be dropped without changing the others' figures).
Checks: every reading client receives every event, in order; p99 delay <= 50 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Any

import attrs
import trio

#: one published event as the monitor relays it (MachineEvent.to_json: keys in this order)
EVENT = re.compile(rb'"payload":\{"sent":([0-9.]+),[^}]*\},"timestamp":[0-9.e+]+,"seq":(\d+)\}')


# -- the publishing process --------------------------------------------------------------


async def publish(path: str, rate: int, seconds: float) -> None:
    from statemachine_engine.transport import MachineEvent, SocketEventPublisher

    publisher = SocketEventPublisher(path, capacity=rate * 10)
    tick = 0.005
    per_tick = max(1, round(rate * tick))
    total = int(rate * seconds)
    async with trio.open_nursery() as nursery:
        await nursery.start(publisher.run)
        while not publisher.statistics().connected:
            await trio.sleep(0.005)
        start = trio.current_time()
        i = 0
        while i < total:
            for _ in range(min(per_tick, total - i)):
                event = MachineEvent(
                    "bench_machine",
                    "activity_log",
                    {"sent": time.monotonic(), "message": "tick", "level": "info"},
                    time.time(),
                    i,
                )
                publisher.publish(event)
                i += 1
            await trio.sleep_until(start + (i / per_tick) * tick)
        await publisher.flush()
        stats = publisher.statistics()
        print(json.dumps({"published": stats.published, "dropped": stats.dropped}), flush=True)
        nursery.cancel_scope.cancel()


# -- WebSocket clients -------------------------------------------------------------------


@attrs.define
class Client:
    received: int = 0
    last_seq: int = -1
    out_of_order: int = 0
    first_at: float | None = None
    last_at: float | None = None
    delays: list[float] = attrs.field(factory=list)
    closed: str | None = None


async def handshake(
    port: int, *, receive_buffer: int | None = None
) -> tuple[trio.SocketStream, bytes]:
    """Open a WebSocket to the monitor; returns the stream and any bytes read past the
    handshake (the snapshot may arrive in the same read)."""
    sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    await sock.connect(("127.0.0.1", port))
    stream = trio.SocketStream(sock)
    key = base64.b64encode(os.urandom(16)).decode()
    await stream.send_all(
        (
            f"GET /ws/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await stream.receive_some(4096)
        if not chunk:
            raise RuntimeError("the monitor closed the connection during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    return stream, head.split(b"\r\n\r\n", 1)[1]


async def read_frames(stream: trio.SocketStream, buffer: bytes, client: Client) -> None:
    """Count the events in what arrives, and their delays.

    Scans the raw bytes for complete event objects with one regular expression instead of
    decoding frame by frame: the clients must cost far less CPU than the server measured.
    An event split across two reads is completed by the next one (its closing brace is
    part of the pattern); frame headers, the snapshot and keep-alive pings never match.
    """
    while True:
        chunk = await stream.receive_some(262_144)
        if not chunk:
            client.closed = "connection closed"
            return
        now = time.monotonic()
        buffer += chunk
        end = 0
        delays = client.delays
        for match in EVENT.finditer(buffer):
            seq = int(match.group(2))
            if seq != client.last_seq + 1 and client.last_seq >= 0:
                client.out_of_order += 1
            client.last_seq = seq
            delays.append(now - float(match.group(1)))
            end = match.end()
        if end:
            client.received = len(delays)
            client.first_at = client.first_at or now
            client.last_at = now
            buffer = buffer[end:]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def phase(
    port: int, event_socket: str, clients: int, rate: int, seconds: float, *, stalled: bool
) -> dict[str, Any]:
    states = [Client() for _ in range(clients)]
    total = int(rate * seconds)
    opened = [await handshake(port) for _ in states]
    streams = [stream for stream, _ in opened]
    stalled_stream = (await handshake(port, receive_buffer=4096))[0] if stalled else None
    async with trio.open_nursery() as nursery:
        for (stream, rest), state in zip(opened, states, strict=True):
            nursery.start_soon(read_frames, stream, rest, state)
        await trio.sleep(0.5)  # every snapshot read
        proc = await trio.run_process(
            [sys.executable, __file__, "--publish", event_socket, str(rate), str(seconds)],
            capture_stdout=True,
        )
        published = json.loads(proc.stdout)
        with trio.move_on_after(10):
            while any(s.received < total and s.closed is None for s in states):
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    for stream in streams:
        await stream.aclose()
    if stalled_stream is not None:
        await stalled_stream.aclose()
    delays = [d for s in states for d in s.delays]
    rates = [
        (s.received - 1) / (s.last_at - s.first_at)
        for s in states
        if s.first_at and s.last_at and s.last_at > s.first_at
    ]
    return {
        "clients": clients,
        "stalled_client": stalled,
        "events_published": published["published"],
        "publisher_dropped": published["dropped"],
        "every_client_got_every_event": all(
            s.received == total and s.out_of_order == 0 for s in states
        ),
        "min_received": min(s.received for s in states),
        "p50_ms": round(statistics.median(delays) * 1000, 2),
        "p99_ms": round(percentile(delays, 0.99) * 1000, 2),
        "max_ms": round(max(delays) * 1000, 2),
        "client_rate_median": round(statistics.median(rates)),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health(ui_port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/health", timeout=5) as reply:
        result: dict[str, Any] = json.loads(reply.read())
    return result


async def run(args: argparse.Namespace) -> int:
    folder = tempfile.mkdtemp(prefix="smmon", dir="/tmp")
    event_socket = os.path.join(folder, "events.sock")
    command = [
        sys.executable, "-m", "statemachine_engine.cli._ui", "--port", "0",
        "--websocket-port", "0", "--event-socket-path", event_socket,
        "--project-root", folder, "--log-level", "WARNING",
    ]  # fmt: skip
    monitor = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        ports: dict[str, int] = {}
        assert monitor.stdout is not None
        while len(ports) < 2:
            line = monitor.stdout.readline()
            if not line:
                raise RuntimeError("the monitor exited before it was listening")
            if line.startswith(("Monitor UI:", "WebSocket events:")):
                port = int(line.split(":")[-1].split("/")[0])
                ports["ui" if line.startswith("Monitor") else "ws"] = port
        results = []
        for stalled in (False, True):
            cpu_before = cpu_seconds(monitor.pid)
            own_before = cpu_seconds(os.getpid())
            result = await phase(
                ports["ws"], event_socket, args.clients, args.rate, args.seconds, stalled=stalled
            )
            result["monitor_cpu_per_s"] = round(
                (cpu_seconds(monitor.pid) - cpu_before) / args.seconds, 3
            )
            result["clients_cpu_per_s"] = round(
                (cpu_seconds(os.getpid()) - own_before) / args.seconds, 3
            )
            result["monitor_health"] = await trio.to_thread.run_sync(health, ports["ui"])
            results.append(result)
            print(json.dumps(result), flush=True)
        live, with_stalled = results
        ok = (
            all(r["every_client_got_every_event"] for r in results)
            and all(r["p99_ms"] <= 50 for r in results)
            # the stalled client was resynced (a fresh snapshot) or, blocked long, cut off
            and with_stalled["monitor_health"]["slow_disconnects"]
            + with_stalled["monitor_health"].get("resyncs", 0)
            >= 1
        )
        print(
            f"{'PASS' if ok else 'FAIL'}: {args.clients} clients x {args.rate} events/s; "
            f"p99 {live['p99_ms']} ms (stalled client present: {with_stalled['p99_ms']} ms); "
            f"per-client rate {live['client_rate_median']} / {with_stalled['client_rate_median']} "
            f"events/s; stalled client resynced "
            f"{with_stalled['monitor_health'].get('resyncs', 0)} times, dropped "
            f"{with_stalled['monitor_health']['slow_disconnects']} times",
            flush=True,
        )
        return 0 if ok else 1
    finally:
        monitor.terminate()
        monitor.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--publish":
        trio.run(publish, sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="3 s per phase")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 3.0
    return trio.run(run, args)


if __name__ == "__main__":
    sys.exit(main())
