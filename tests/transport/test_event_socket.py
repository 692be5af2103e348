"""The event socket: a publisher that never blocks a machine, and the listening side."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

from statemachine_engine.errors import TransportError
from statemachine_engine.transport import (
    EventListener,
    MachineEvent,
    Publisher,
    SocketEventPublisher,
    send_events,
)

#: the publisher's own lines (a test's caplog also holds other threads' warnings)
PUBLISHER_LOGGER = "statemachine_engine.transport._event_publisher"


def event(i: int, machine: str = "worker") -> MachineEvent:
    return MachineEvent(machine, "state_change", {"to_state": f"s{i}"}, 1000.0 + i, i)


class Collector:
    """A listener handler that signals once ``expected`` events arrived."""

    def __init__(self, expected: int) -> None:
        self.events: list[MachineEvent] = []
        self.expected = expected
        self.done = trio.Event()

    async def __call__(self, ev: MachineEvent) -> None:
        self.events.append(ev)
        if len(self.events) >= self.expected:
            self.done.set()


@asynccontextmanager
async def running(start: Callable[..., Any]) -> AsyncIterator[Any]:
    async with trio.open_nursery() as nursery:
        value = await nursery.start(start)
        yield value
        nursery.cancel_scope.cancel()


async def test_publisher_without_listener_drops_oldest_and_counts(sock_dir: Path) -> None:
    publisher = SocketEventPublisher(str(sock_dir / "ev.sock"), capacity=10)
    assert isinstance(publisher, Publisher)
    with trio.fail_after(10):
        async with running(publisher.run):
            for i in range(1000):
                publisher.publish(event(i))
            await trio.testing.wait_all_tasks_blocked()
            stats = publisher.statistics()
            assert (stats.published, stats.sent, stats.dropped, stats.buffered) == (
                1000,
                0,
                990,
                10,
            )
            assert stats.connected is False
            await publisher.flush()  # returns at once: nobody to flush to

            # a monitor appears: the publisher finds it and delivers the newest ten
            collector = Collector(10)
            async with running(EventListener(collector, str(sock_dir / "ev.sock")).run):
                await collector.done.wait()
            assert [e.seq for e in collector.events] == list(range(990, 1000))
            assert collector.events[0] == event(990)
            assert publisher.statistics().connects == 1


async def test_publisher_comes_back_after_the_listener_restarts(sock_dir: Path) -> None:
    path = str(sock_dir / "ev.sock")
    publisher = SocketEventPublisher(path)
    with trio.fail_after(20):
        async with running(publisher.run):
            first = Collector(5)
            async with running(EventListener(first, path).run):
                for i in range(5):
                    publisher.publish(event(i))
                await first.done.wait()
            # the monitor is gone: these may be lost, never block
            for i in range(5, 10):
                publisher.publish(event(i))
            await trio.testing.wait_all_tasks_blocked()
            second = Collector(1)
            async with running(EventListener(second, path).run):
                while not publisher.statistics().connected:
                    await trio.testing.wait_all_tasks_blocked()
                    await trio.sleep(0.01)
                for i in range(10, 15):
                    publisher.publish(event(i))
                while [e.seq for e in second.events][-5:] != list(range(10, 15)):
                    await trio.sleep(0.01)
            stats = publisher.statistics()
            assert stats.connects == 2
            assert stats.published == stats.sent + stats.dropped + stats.buffered == 15


async def test_flush_waits_until_everything_is_written(sock_dir: Path) -> None:
    path = str(sock_dir / "ev.sock")
    collector = Collector(2000)
    with trio.fail_after(10):
        async with running(EventListener(collector, path).run):
            publisher = SocketEventPublisher(path)
            async with running(publisher.run):
                while not publisher.statistics().connected:
                    await trio.sleep(0.01)
                for i in range(2000):
                    publisher.publish(event(i))
                await publisher.flush()
                assert publisher.statistics().sent == 2000
                await collector.done.wait()
    assert [e.seq for e in collector.events] == list(range(2000))


async def connected_publisher(path: str, nursery: trio.Nursery) -> SocketEventPublisher:
    publisher: SocketEventPublisher = await nursery.start(SocketEventPublisher(path).run)
    while not publisher.statistics().connected:
        await trio.sleep(0.001)
    return publisher


async def test_a_burst_published_over_many_scheduler_passes_goes_out_in_few_writes(
    sock_dir: Path,
) -> None:
    # a busy machine publishes an event or two per pass of the scheduler: each must not
    # cost a system call (and a wake-up of the monitor) of its own
    path = str(sock_dir / "ev.sock")
    collector = Collector(300)
    with trio.fail_after(10):
        async with running(EventListener(collector, path).run), trio.open_nursery() as nursery:
            publisher = await connected_publisher(path, nursery)
            for i in range(300):
                publisher.publish(event(i))
                await trio.lowlevel.checkpoint()
            await collector.done.wait()
            stats = publisher.statistics()
            nursery.cancel_scope.cancel()
    assert [e.seq for e in collector.events] == list(range(300))
    assert stats.sent == 300
    assert stats.writes <= 10


async def test_an_event_of_an_idle_runtime_is_written_without_waiting_for_a_timer(
    sock_dir: Path, mock_clock: trio.testing.MockClock
) -> None:
    # the clock never moves: the event reaches the listener only if no timer holds it back
    path = str(sock_dir / "ev.sock")
    collector = Collector(1)
    async with running(EventListener(collector, path).run), trio.open_nursery() as nursery:
        publisher: SocketEventPublisher = await nursery.start(SocketEventPublisher(path).run)
        await trio.testing.wait_all_tasks_blocked()
        assert publisher.statistics().connected
        publisher.publish(event(7))
        await trio.testing.wait_all_tasks_blocked()
        assert [e.seq for e in collector.events] == [7]
        assert publisher.statistics().writes == 1
        nursery.cancel_scope.cancel()


async def test_backoff_doubles_up_to_the_cap_and_drops_are_summarised(
    sock_dir: Path,
    autojump_clock: trio.testing.MockClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="statemachine_engine.transport._event_publisher")
    attempts: list[float] = []
    connect = trio.open_unix_socket

    async def recording_connect(path: str) -> trio.SocketStream:
        attempts.append(trio.current_time())
        return await connect(path)

    monkeypatch.setattr(trio, "open_unix_socket", recording_connect)
    publisher = SocketEventPublisher(str(sock_dir / "none.sock"), capacity=10, report_interval=30.0)
    start = trio.current_time()

    def summaries() -> list[str]:
        return [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]

    async with running(publisher.run):
        for i in range(1000):
            publisher.publish(event(i))
        await trio.sleep(20)
        assert summaries() == [
            f"event socket {sock_dir}/none.sock: dropped 990 events, the oldest first, with no "
            "monitor listening (990 in total since start; buffer capacity 10)"
        ]
        # nobody listens: expected, not a warning (drops while a monitor listens are)
        assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
        for i in range(5):
            publisher.publish(event(i))
        await trio.sleep(9)  # 29 s: within the interval, no second line
        assert len(summaries()) == 1
        await trio.sleep(3)
        assert summaries()[1].endswith(
            "dropped 5 events, the oldest first, with no monitor listening (995 in total since "
            "start; buffer capacity 10)"
        )
    # sleeps of 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, then the 2 s cap
    offsets = [round(t - start, 6) for t in attempts[:9]]
    assert offsets == [0.0, 0.05, 0.15, 0.35, 0.75, 1.55, 3.15, 5.15, 7.15]
    absent = [r for r in caplog.records if "no monitor on event socket" in r.getMessage()]
    assert len(absent) == 1  # one line per outage, not one per attempt


async def test_a_quiet_publisher_says_nothing_at_info_when_nobody_listens(
    sock_dir: Path, autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A runtime that hosts its own monitor (``--monitor``): the event socket is for monitors
    elsewhere, and their absence is no news."""
    caplog.set_level(logging.DEBUG, logger=PUBLISHER_LOGGER)
    publisher = SocketEventPublisher(str(sock_dir / "none.sock"), capacity=10, quiet=True)
    async with running(publisher.run):
        for i in range(100):
            publisher.publish(event(i))
        await trio.sleep(40)
    assert publisher.statistics().dropped == 90
    said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == PUBLISHER_LOGGER]
    assert [level for level, _ in said] == [logging.DEBUG, logging.DEBUG]
    assert "no monitor on event socket" in said[0][1] and "dropped 90 events" in said[1][1]


async def test_drops_while_connected_are_reported_even_if_no_event_follows(
    sock_dir: Path,
    autojump_clock: trio.testing.MockClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An idle publisher waits for events without a timeout, except while drops wait to be
    summarised: then it wakes up in time to report them."""
    caplog.set_level(logging.WARNING, logger="statemachine_engine.transport._event_publisher")
    path = str(sock_dir / "ev.sock")
    collector = Collector(20)
    publisher = SocketEventPublisher(path, capacity=10, report_interval=30.0)

    def summaries() -> list[str]:
        return [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]

    async with running(EventListener(collector, path).run), running(publisher.run):
        while not publisher.statistics().connected:
            await trio.sleep(0.01)
        for i in range(100):  # faster than any write: all but the last ten are dropped
            publisher.publish(event(i))
        await trio.sleep(1)
        assert len(summaries()) == 1  # the first drops are reported at once
        for i in range(100, 200):
            publisher.publish(event(i))
        await trio.sleep(1)
        assert len(summaries()) == 1  # within the report interval: counted, not logged
        await trio.sleep(30)
        assert summaries()[1].endswith(
            "dropped 90 events (180 in total since start; buffer capacity 10)"
        )
    assert [e.seq for e in collector.events] == [*range(90, 100), *range(190, 200)]


async def test_listener_counts_and_drops_invalid_lines(sock_dir: Path) -> None:
    path = sock_dir / "ev.sock"
    collector = Collector(2)
    listener = EventListener(collector, str(path), max_line_bytes=1000)
    lines = [
        event(1).to_json().encode(),
        b"garbage",
        b"[1, 2]",
        b'{"type": "state_change", "payload": {}}',
        b'{"machine_name": "w", "type": "x", "payload": "not an object"}',
        b'{"machine_name": "w", "type": "x", "payload": {"big": "' + b"y" * 2000 + b'"}}',
        # a whole number too large for a float timestamp (it ended the listener)
        b'{"machine_name": "w", "type": "x", "timestamp": 1' + b"0" * 400 + b"}",
        b"",
        event(2).to_json().encode(),
    ]
    with trio.fail_after(10):
        async with running(listener.run):
            async with await trio.open_unix_socket(str(path)) as stream:
                await stream.send_all(b"\n".join(lines) + b"\n")
                await collector.done.wait()
            while listener.statistics().connections_open:
                await trio.sleep(0.01)
    assert collector.events == [event(1), event(2)]
    stats = listener.statistics()
    assert (stats.received, stats.invalid, stats.connections_total) == (2, 6, 1)


async def test_many_publishers_into_one_listener(sock_dir: Path) -> None:
    path = str(sock_dir / "ev.sock")
    collector = Collector(1000)
    with trio.fail_after(20):
        async with running(EventListener(collector, path).run) as listener:
            async with trio.open_nursery() as nursery:
                publishers = [SocketEventPublisher(path) for _ in range(5)]
                for p in publishers:
                    await nursery.start(p.run)
                for i in range(200):
                    for n, p in enumerate(publishers):
                        p.publish(event(i, machine=f"m{n}"))
                await collector.done.wait()
                nursery.cancel_scope.cancel()
            assert listener.statistics().connections_total == 5
    for n in range(5):
        assert [e.seq for e in collector.events if e.machine_name == f"m{n}"] == list(range(200))


async def test_blocking_event_writer_for_command_line_tools(sock_dir: Path) -> None:
    path = str(sock_dir / "ev.sock")
    collector = Collector(2)
    with trio.fail_after(10):
        async with running(EventListener(collector, path).run):
            written = await trio.to_thread.run_sync(lambda: send_events([event(1), event(2)], path))
            assert written == 2
            await collector.done.wait()
    with pytest.raises(
        TransportError, match=f"no event socket at {path} \\(is the monitor running"
    ):
        send_events([event(3)], path)


async def test_listener_refuses_a_path_that_is_not_a_socket(sock_dir: Path) -> None:
    path = sock_dir / "ev.sock"
    path.write_text("")
    with pytest.raises(TransportError, match=r"event socket path .* is not a socket"):
        await EventListener(Collector(1), str(path)).run()
