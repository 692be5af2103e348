"""One side of the bare two-process exchange: the ping-pong rally without machines or a store.

Run: python bench/_bare_rally.py ROLE MY_SOCKET OTHER_SOCKET SECONDS

Each side serves a control socket (this project's ``ControlServer``) whose router only puts
the message into a queue, as a runtime puts it into a machine's mailbox; one task takes it
from there and answers with the message a ``send_event`` action sends (type ``ball``, an
empty payload, target and source) over one persistent ``ControlConnection``, awaiting its
acknowledgement -- the runtime's path with no machine step, no record and no event
published. ``ping`` serves the first ball once the other side's socket exists, counts the
balls that come back for SECONDS and prints one JSON line: the round-trip times in ms.
``pong`` answers until it is killed.
"""

from __future__ import annotations

import json
import os
import sys
import time

import trio

from statemachine_engine.transport import ControlConnection, ControlServer, Message


async def rally(role: str, mine: str, other: str, seconds: float) -> None:
    send_box, receive_box = trio.open_memory_channel[Message](64)

    async def router(message: Message) -> None:
        await send_box.send(message)

    async with trio.open_nursery() as nursery:
        await nursery.start(ControlServer(mine, router).run)
        with trio.fail_after(30):
            while not os.path.exists(other):
                await trio.sleep(0.005)
        ball = Message(type="ball", payload={}, target="other", source=role)
        async with ControlConnection(other) as conn:
            if role == "pong":
                async for _ in receive_box:
                    await conn.send(ball)
            await conn.send(ball)  # the serve
            await receive_box.receive()  # the rally is on
            times: list[float] = []
            start = last = time.perf_counter()
            while last - start < seconds:
                await conn.send(ball)
                await receive_box.receive()
                now = time.perf_counter()
                times.append(now - last)
                last = now
        nursery.cancel_scope.cancel()
    print(json.dumps({"round_trips_ms": [t * 1000 for t in times]}), flush=True)


if __name__ == "__main__":
    trio.run(rally, sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
