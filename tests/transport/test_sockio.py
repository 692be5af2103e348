"""Socket reads and writes with one pass of the scheduler per read, none per write."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from statemachine_engine.transport import _sockio


def pair() -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return trio.socket.from_stdlib_socket(a), trio.socket.from_stdlib_socket(b)


async def test_receive_waits_for_data_and_reads_what_is_there() -> None:
    a, b = pair()
    with a, b:
        assert _sockio.receive_nowait(a, 100) is None
        async with trio.open_nursery() as nursery:
            got: list[bytes] = []

            async def read() -> None:
                got.append(await _sockio.receive_some(a, 100))

            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            assert got == []  # nothing sent yet: it waits
            await _sockio.send_all(b, b"one\ntwo\n")
        assert got == [b"one\ntwo\n"]
        b.close()
        assert await _sockio.receive_some(a, 100) == b""  # end of stream


async def test_a_write_that_fits_takes_no_schedule_point() -> None:
    a, b = pair()
    with a, b:
        with trio.CancelScope() as scope:
            scope.cancel()
            # a cancelled scope would raise at a checkpoint: the write completes without one
            await _sockio.send_all(b, b"x" * 100)
        assert not scope.cancelled_caught
        assert await _sockio.receive_some(a, 1000) == b"x" * 100


async def test_a_write_larger_than_the_buffer_waits_for_the_reader() -> None:
    a, b = pair()
    with a, b:
        b.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        data = bytes(range(256)) * 4096  # 1 MiB: many times the buffer
        received = bytearray()

        async def read_all() -> None:
            while len(received) < len(data):
                received.extend(await _sockio.receive_some(a, 65536))

        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_all)
                await _sockio.send_all(b, data)
        assert bytes(received) == data


async def test_errors_are_trios_stream_errors() -> None:
    a, b = pair()
    a.close()
    with pytest.raises(trio.ClosedResourceError):
        await _sockio.receive_some(a, 10)
    with pytest.raises(trio.ClosedResourceError):
        await _sockio.send_all(a, b"x")
    with pytest.raises(trio.BrokenResourceError):  # the peer is gone
        await _sockio.send_all(b, b"x")
    b.close()


async def test_closing_the_socket_wakes_a_waiting_reader() -> None:
    a, b = pair()
    with b:
        async with trio.open_nursery() as nursery:
            outcome: list[type[BaseException]] = []

            async def read() -> None:
                try:
                    await _sockio.receive_some(a, 10)
                except trio.ClosedResourceError as exc:
                    outcome.append(type(exc))

            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            a.close()  # trio's close tells the waiting task
        assert outcome == [trio.ClosedResourceError]
