"""The ping-pong scenario of bench_processes.py: two machines in two processes sending each
other a ball with ``send_event``, in three settings.

1. With this process observing: it reads every event of both runtimes, as a monitor does,
   and counts the rally by ping's ``state_change`` events.
2. The same with this process at idle CPU priority: on two cores its wake-ups otherwise
   take turns from the runtimes it measures.
3. (This project only) two fresh runtimes with no monitor listening on their event socket:
   their events are buffered and dropped, as for workers run without a monitor. Counted from
   ping's rows in the history table once the runtimes have stopped.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import time
from typing import Any, Protocol

import trio
from _process_harness import Impl, Ours, Proc, write

# {other} is filled per run: the machines' names are unique each time.
PLAYER_YAML = """\
metadata: {{name: Player}}
initial_state: ready
states: [ready, hitting, stopped]
events: [ball, event_sent, stop]
transitions:
  - {{from: ready, to: hitting, event: ball}}
  - {{from: hitting, to: ready, event: event_sent}}
  - {{from: "*", to: stopped, event: stop}}
actions:
  hitting:
    - {{type: send_event, target_machine: {other}, event_type: ball}}
"""

FIGURE = "ping-pong, send_event between two processes"


class Figures(Protocol):
    def add(self, figure: str, impl: str, value: float, unit: str, *, higher: bool) -> None: ...


async def pingpong(impl: Impl, results: Figures, size: dict[str, Any]) -> None:
    ping, pong = impl.unique("ping"), impl.unique("pong")
    ping_cfg = write(impl.work, "ping.yaml", PLAYER_YAML.format(other=pong))
    pong_cfg = write(impl.work, "pong.yaml", PLAYER_YAML.format(other=ping))
    ping_proc = await impl.start_ready(ping_cfg, ping)
    pong_proc = await impl.start_ready(pong_cfg, pong)
    # the published package's send_event resolves nothing: it needs the default path
    await serve(impl, ping)
    await impl.observer.wait_count(ping, "state_change", 4, 30)  # the rally is on
    seconds = size["pingpong_seconds"]
    first = impl.observer.count(ping, "state_change")
    start = time.perf_counter()
    await trio.sleep(seconds)
    count = impl.observer.count(ping, "state_change") - first
    elapsed = time.perf_counter() - start
    # two transitions of ping per round trip
    results.add(FIGURE, impl.label, count / 2 / elapsed, "round trips/s", higher=True)
    if can_idle_and_return():
        results.add(
            "ping-pong, the same with the observer at idle CPU priority",
            impl.label,
            await rally_with_idle_observer(impl, ping, seconds),
            "round trips/s",
            higher=True,
        )
    await impl.stop(ping, ping_proc)
    await impl.stop(pong, pong_proc)
    if isinstance(impl, Ours):
        results.add(
            "ping-pong, the same with no monitor listening",
            impl.label,
            await rally_without_monitor(impl, seconds),
            "round trips/s",
            higher=True,
        )


async def serve(impl: Impl, ping: str) -> None:
    sender = impl.sender(ping)
    try:
        await sender.send("ball")
    finally:
        await sender.aclose()


def can_idle_and_return() -> bool:
    """Whether this process may go to SCHED_IDLE and come back to SCHED_OTHER: coming back
    takes root, or an RLIMIT_NICE that allows the current nice value (sched(7))."""
    if not hasattr(os, "SCHED_IDLE"):
        return False
    if os.geteuid() == 0:
        return True
    soft, _ = resource.getrlimit(resource.RLIMIT_NICE)
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    return soft == resource.RLIM_INFINITY or soft >= 20 - nice


async def rally_with_idle_observer(impl: Impl, ping: str, seconds: float) -> float:
    """Round trips per second while this process, which reads every event of both
    runtimes, runs at SCHED_IDLE. It may then fall behind, so the round trips are counted by
    the runtime's own timestamps once it has caught up with the end of the window."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    try:
        t0 = time.time()  # the runtimes stamp their events with the wall clock
        await trio.sleep(seconds)
        t1 = time.time()
    finally:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

    def caught_up() -> bool:
        for _, event in reversed(impl.observer.events[-100:]):
            if event.get("machine_name") == ping and event.get("type") == "state_change":
                return float(event["payload"]["timestamp"]) >= t1
        return False

    await impl.observer.wait(caught_up, 30, f"the events of {ping} up to the window's end")
    count = sum(
        1
        for _, event in impl.observer.find(ping, "state_change")
        if t0 <= float(event["payload"]["timestamp"]) < t1
    )
    return count / 2 / (t1 - t0)


async def rally_without_monitor(impl: Ours, seconds: float) -> float:
    """Round trips per second of two fresh runtimes whose event socket nobody listens on."""
    ping, pong = impl.unique("ping"), impl.unique("pong")
    cwd = impl.work / "no-monitor"
    nobody = str(impl.sock_dir / "nobody.sock")
    procs: list[tuple[str, Proc]] = []
    for me, other in ((ping, pong), (pong, ping)):
        argv = impl.argv(write(cwd, f"{me}.yaml", PLAYER_YAML.format(other=other)), me, cwd)
        argv[argv.index("--event-socket-path") + 1] = nobody
        procs.append((me, await impl.spawn(argv, cwd, me)))
    with trio.fail_after(30):
        # no machine_registered to wait for: a runtime is ready once its socket exists
        while not all(os.path.exists(impl.control_path(name)) for name, _ in procs):
            await trio.sleep(0.01)
    await serve(impl, ping)
    await trio.sleep(0.5)  # the rally gets going
    t0 = time.time()  # the history rows carry the runtime's wall-clock timestamps
    await trio.sleep(seconds)
    t1 = time.time()
    for name, proc in procs:
        await impl.stop(name, proc)  # a stopped runtime has written all its history
    with sqlite3.connect(impl.db_of(cwd)) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM state_transitions"
            " WHERE machine_name = ? AND timestamp >= ? AND timestamp < ?",
            (ping, t0, t1),
        ).fetchone()
    return float(count) / 2 / (t1 - t0)
