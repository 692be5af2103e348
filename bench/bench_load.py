"""Load benchmark (issue 14): one ``statemachine`` process with its monitor, four clients
sending events on its control socket at once for a bounded time.

Run: .venv/bin/python bench/bench_load.py [--seconds 20] [--clients 4] [--quick]

The runtime is this project's ``statemachine CONFIG --monitor`` (WebSocket and UI servers
on free ports, one WebSocket client of this process reading every frame), publishing its
machine events to an event socket this process binds as well. Each client holds one
persistent control connection and sends ``go`` pipelined (``send_many``, acknowledged) as
fast as the runtime takes them, until the time is up. Reported:

* events/s held: events acknowledged by the runtime, all clients together, over the
  sending time;
* the runtime's resident memory (VmRSS) once ready, and again once every event is handled;
* events lost: events acknowledged minus transitions counted on the event socket (must be
  0), and what the monitor's WebSocket client received (it may be resynced: a fresh
  snapshot in place of what it missed, counted by the monitor's ``/health``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _process_harness import Ours, StreamSender, memory_kib, write

FLIP_YAML = """\
metadata: {name: Flip}
initial_state: a
states: [a, b, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
"""

#: events per ``send_many`` call of one client (each call waits for its acknowledgements)
BATCH = 256


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def client(sender: StreamSender, deadline: float, sent: list[int], index: int) -> None:
    """Send ``go`` in batches until ``deadline`` (trio time); count what was acknowledged."""
    try:
        while trio.current_time() < deadline:
            await sender.send_many("go" for _ in range(BATCH))
            sent[index] += BATCH
    finally:
        await sender.aclose()


async def websocket_reader(port: int, counts: dict[str, int]) -> None:
    """A monitor client that reads every frame (counts bytes and text frames, unparsed)."""
    from trio_websocket import ConnectionClosed, open_websocket_url

    async with open_websocket_url(f"ws://127.0.0.1:{port}/ws/events") as ws:
        try:
            while True:
                message = await ws.get_message()
                counts["frames"] += 1
                counts["bytes"] += len(message)
        except ConnectionClosed:
            pass  # the runtime stopped


async def health(port: int) -> dict[str, Any]:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        await stream.send_all(request.encode())
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    result: dict[str, Any] = json.loads(data.partition(b"\r\n\r\n")[2])
    return result


async def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    impl = Ours(root / "ours", root / "pycache")
    ui_port, ws_port = free_port(), free_port()
    config = write(impl.work, "flip.yaml", FLIP_YAML)
    name = impl.unique("load")
    argv = [*impl.argv(config, name, impl.work), "--monitor", "--ui-port", str(ui_port),
            "--websocket-port", str(ws_port), "--log-level", "WARNING"]  # fmt: skip
    ws_counts = {"frames": 0, "bytes": 0}
    try:
        async with trio.open_nursery() as nursery:
            await impl.listen(nursery)
            proc = await impl.spawn(argv, impl.work, name)
            try:
                await impl.observer.wait_count(name, "machine_registered", 1, 30)
            except TimeoutError:
                raise TimeoutError(f"{name} did not start; see {proc.log}") from None
            nursery.start_soon(websocket_reader, ws_port, ws_counts)
            rss_before = memory_kib(proc.pid)[0]

            sent = [0] * args.clients
            senders = [impl.sender(name) for _ in range(args.clients)]
            start = trio.current_time()
            began = time.perf_counter()
            async with trio.open_nursery() as clients:
                for i, sender in enumerate(senders):
                    clients.start_soon(client, sender, start + args.seconds, sent, i)
            sending = time.perf_counter() - began
            total = sum(sent)
            try:
                end = await impl.observer.wait_count(name, "state_change", total, 120)
            except TimeoutError:
                end = time.perf_counter()
            handled = impl.observer.count(name, "state_change")
            rss_after = memory_kib(proc.pid)[0]
            monitor = await health(ui_port)  # the UI server's: the hub's counters
            await impl.stop(name, proc)
            nursery.cancel_scope.cancel()
    finally:
        impl.cleanup()
    return {
        "clients": args.clients,
        "seconds": round(sending, 2),
        "events_sent": total,
        "events_per_second_held": round(total / sending),
        "transitions_per_second": round(handled / (end - began)),
        "transitions_seen": handled,
        "events_lost": total - handled,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "websocket_frames": ws_counts["frames"],
        "monitor_events_relayed": monitor["events_relayed"],
        "monitor_resyncs": monitor["resyncs"],
        "monitor_events_skipped_by_resyncs": monitor["dropped"],
        "monitor_slow_disconnects": monitor["slow_disconnects"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="sending time (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="control clients (default 4)")
    parser.add_argument("--quick", action="store_true", help="3 seconds of sending")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 3.0
    root = Path(tempfile.mkdtemp(prefix="smload"))
    print(
        f"{datetime.date.today()} python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    try:
        result = trio.run(run, args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for key, value in result.items():
        print(f"{key}: {value}")
    if result["events_lost"]:
        print(f"FAILED: {result['events_lost']} events lost")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
