"""Socket-layer benchmarks (issue 4): the control socket and the event socket across processes.

Run: .venv/bin/python bench/bench_transport.py [--quick]

This process serves a control socket whose router only counts messages (no machine behind
it: this measures the socket layer alone; the runtime's own figure goes through a
machine's mailbox). A second Python process sends to it:

* persistent/sequential -- one ControlConnection, each send waits for its ack
* persistent/pipelined  -- one ControlConnection, send_many (up to 256 unacknowledged)
* blocking/sequential   -- a plain blocking socket waiting for each ack (no trio in the
                           sender: the server's own round-trip capacity)
* one-shot blocking     -- the CLI client: connect, send, ack, close, per message
* event socket          -- SocketEventPublisher in the sender, EventListener here

Each figure is the median of several runs; prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import time
from typing import Any

import trio

from statemachine_engine.transport import (
    ControlConnection,
    ControlServer,
    EventListener,
    LineReader,
    MachineEvent,
    Message,
    SocketEventPublisher,
    encode_message,
    parse_ack,
    send_to_socket,
)

# -- the sending process -----------------------------------------------------------------


async def _send(path: str, mode: str, n: int) -> float:
    """Seconds taken; for ``events``, the perf_counter instant the first event was published."""
    if mode == "blocking":
        return _blocking_round_trips(path, n)
    if mode == "oneshot":
        start = time.perf_counter()
        for i in range(n):
            send_to_socket(path, {"type": "tick", "payload": {"i": i}})
        return time.perf_counter() - start
    if mode == "events":
        publisher = SocketEventPublisher(path, capacity=n)
        async with trio.open_nursery() as nursery:
            await nursery.start(publisher.run)
            while not publisher.statistics().connected:
                await trio.sleep(0.001)
            start = time.perf_counter()
            for i in range(n):
                publisher.publish(MachineEvent("bench", "state_change", {"i": i}, 0.0, i))
                if i % 1000 == 999:
                    await trio.sleep(0)  # a machine yields between steps too
            await publisher.flush()
            nursery.cancel_scope.cancel()
        return start
    async with ControlConnection(path) as conn:
        await conn.send({"type": "warmup"})
        start = time.perf_counter()
        if mode == "sequential":
            for i in range(n):
                await conn.send({"type": "tick", "payload": {"i": i}})
        else:
            await conn.send_many({"type": "tick", "payload": {"i": i}} for i in range(n))
        return time.perf_counter() - start


def _blocking_round_trips(path: str, n: int) -> float:
    """A plain blocking socket that waits for each ack: the server's round-trip capacity."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        reader = LineReader()
        start = time.perf_counter()
        for i in range(n):
            sock.sendall(encode_message({"type": "tick", "payload": {"i": i}}))
            lines: list[Any] = []
            while not lines:
                lines = reader.feed(sock.recv(4096))
            assert parse_ack(lines[0])["ok"]
        return time.perf_counter() - start


def sender_main(path: str, mode: str, n: int) -> None:
    print(json.dumps({"elapsed": trio.run(_send, path, mode, n)}))


# -- the measuring process ---------------------------------------------------------------


async def _sender(path: str, mode: str, n: int) -> float:
    result = await trio.run_process(
        [sys.executable, __file__, "--sender", path, mode, str(n)],
        capture_stdout=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return float(json.loads(result.stdout)["elapsed"])


async def control_rate(directory: str, mode: str, n: int) -> float:
    path = os.path.join(directory, f"ctl-{mode}.sock")
    count = 0

    async def router(message: Message) -> None:
        nonlocal count
        count += 1

    async with trio.open_nursery() as nursery:
        await nursery.start(ControlServer(path, router).run)
        elapsed = await _sender(path, mode, n)
        nursery.cancel_scope.cancel()
    expected = n + (1 if mode in ("sequential", "pipelined") else 0)
    assert count == expected, (count, expected)
    return n / elapsed


async def event_rate(directory: str, n: int) -> float:
    path = os.path.join(directory, "events.sock")
    received = 0
    finished = math.nan
    done = trio.Event()

    async def handler(event: MachineEvent) -> None:
        nonlocal received, finished
        received += 1
        if received == n:
            finished = time.perf_counter()
            done.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(EventListener(handler, path).run)
        # perf_counter is CLOCK_MONOTONIC on Linux, the same clock in both processes: time
        # from the sender's first publish to the last event handled here
        first_published = await _sender(path, "events", n)
        await done.wait()
        nursery.cancel_scope.cancel()
    return n / (finished - first_published)


async def main(quick: bool) -> None:
    runs = 3 if quick else 5
    n = 20_000 if quick else 100_000
    directory = tempfile.mkdtemp(prefix="smb", dir="/tmp")
    figures = [
        ("control socket, persistent connection, sequential (events/s)", "sequential", n // 4),
        ("control socket, persistent connection, pipelined (events/s)", "pipelined", n),
        ("control socket, blocking socket, sequential (events/s)", "blocking", n // 4),
        ("control socket, one-shot blocking client (messages/s)", "oneshot", 2_000),
    ]
    for label, mode, count in figures:
        rates = [await control_rate(directory, mode, count) for _ in range(runs)]
        print(f"{label}: median {statistics.median(rates):,.0f} (n={count}, runs={runs})")
    rates = [await event_rate(directory, n) for _ in range(runs)]
    print(
        f"event socket, publisher -> listener (events/s): "
        f"median {statistics.median(rates):,.0f} (n={n}, runs={runs})"
    )
    os.rmdir(directory)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--sender":
        sender_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    trio.run(main, parser.parse_args().quick)
