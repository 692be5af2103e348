"""Deterministic simulation: machines in one trio run under MockClock, scripted events.

The same YAML and actions that run in production run here; time is virtual, so an hour of
timeouts takes milliseconds, and the same input always gives the same trace.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from statemachine_engine.actors import ActorRef, Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config
from statemachine_engine.errors import ConfigError
from statemachine_engine.testing._schedule import (
    Scheduled,
    ScheduledCrash,
    ScheduledEvent,
    load_events,
    parse_events,
)
from statemachine_engine.transport import FanoutPublisher, MachineEvent, Publisher


@attrs.frozen
class TraceEntry:
    t: float
    machine: str
    from_state: str
    to_state: str
    event: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "t": _t(self.t),
            "machine": self.machine,
            "from": self.from_state,
            "to": self.to_state,
            "event": self.event,
        }


@attrs.frozen
class SimulationResult:
    transitions: tuple[TraceEntry, ...]
    #: machine -> (virtual time it stopped, or the end time; its state then)
    final_states: Mapping[str, tuple[float, str]]
    events: tuple[MachineEvent, ...]
    end_time: float
    #: machines still running when the run ended (``until``): their state is not final
    running: frozenset[str] = frozenset()
    #: machine -> events that fired no transition and were dropped (machines with any)
    dropped: Mapping[str, int] = attrs.field(factory=dict)

    def of(self, machine: str) -> list[TraceEntry]:
        return [t for t in self.transitions if t.machine == machine]

    def to_jsonl(self) -> str:
        lines = [json.dumps(t.to_dict()) for t in self.transitions]
        lines += [json.dumps(self._end_of(name)) for name in sorted(self.final_states)]
        return "".join(line + "\n" for line in lines)

    def _end_of(self, name: str) -> dict[str, Any]:
        t, state = self.final_states[name]
        end: dict[str, Any] = {"t": _t(t), "machine": name, "final_state": state}
        if name in self.running:
            end["running"] = True
        if self.dropped.get(name):
            end["dropped"] = self.dropped[name]
        return end

    def to_text(self) -> str:
        lines = [
            f"{t.t:10.3f}  {t.machine}  {t.from_state} --{t.event}--> {t.to_state}"
            for t in self.transitions
        ]
        for name, (t, state) in sorted(self.final_states.items()):
            dropped = self.dropped.get(name, 0)
            if dropped:
                lines.append(
                    f"{t:10.3f}  {name}  {dropped} event{'s' if dropped > 1 else ''} fired no "
                    "transition and "
                    f"{'were' if dropped > 1 else 'was'} dropped"
                )
            if name in self.running:
                lines.append(f"{t:10.3f}  {name}  still running at the end, in state: {state}")
            else:
                lines.append(f"{t:10.3f}  {name}  final state: {state}")
        return "".join(line + "\n" for line in lines)


def _t(value: float) -> float:
    return round(value, 6)


class _TraceRecorder:
    def __init__(self) -> None:
        self.transitions: list[TraceEntry] = []
        self.events: list[MachineEvent] = []
        self.stopped: dict[str, tuple[float, str]] = {}

    def publish(self, event: MachineEvent) -> None:
        self.events.append(event)
        payload = event.payload
        if event.type == "state_change":
            self.transitions.append(
                TraceEntry(
                    event.timestamp,
                    event.machine_name,
                    str(payload.get("from_state")),
                    str(payload.get("to_state")),
                    str(payload.get("event_trigger")),
                )
            )
        elif event.type == "machine_terminated":
            self.stopped[event.machine_name] = (event.timestamp, str(payload.get("final_state")))


@attrs.frozen
class MachineSetup:
    spec: MachineSpec
    name: str
    context: Mapping[str, Any] = attrs.field(factory=dict)


@contextlib.contextmanager
def _deterministic_scheduling(seed: int) -> Iterator[None]:
    """Seed trio's scheduler coin, so that tasks woken together run in the same order on
    every run (trio flips a coin per batch to shake out ordering bugs).

    The scheduler's deterministic mode is switched on too: importing Hypothesis (as any test
    run does) switches trio to it, and the order must not depend on whether that happened.
    """
    from trio._core import _run

    state = _run._r.getstate()
    mode = _run._ALLOW_DETERMINISTIC_SCHEDULING
    _run._r.seed(seed)
    _run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    try:
        yield
    finally:
        _run._ALLOW_DETERMINISTIC_SCHEDULING = mode  # type: ignore[misc]
        _run._r.setstate(state)


async def run_simulation(
    machines: Sequence[MachineSetup],
    events: Sequence[Scheduled] = (),
    *,
    until: float = 60.0,
    store: Any = None,
    publisher: Publisher | None = None,
    actions_dir: str | Path | None = None,
) -> SimulationResult:
    """Run inside a trio run whose clock is a :class:`trio.testing.MockClock`."""
    names = [m.name for m in machines]
    unknown = sorted({e.target for e in events} - set(names))
    if unknown:
        raise ConfigError(
            f"events name machines that are not simulated: {', '.join(unknown)}; "
            f"machines: {', '.join(names)}"
        )
    recorder = _TraceRecorder()
    pub: Publisher = recorder if publisher is None else FanoutPublisher([recorder, publisher])
    start = trio.current_time()
    async with (
        _maybe_store(store) as the_store,
        open_runtime(
            store=the_store,
            publisher=pub,
            actions_dir=actions_dir,
            wall_clock=lambda: trio.current_time() - start,
        ) as runtime,
    ):
        refs = [await runtime.spawn(m.spec, name=m.name, context=m.context) for m in machines]
        with trio.move_on_at(start + until):
            async with trio.open_nursery() as nursery:
                # stable: events at the same time keep their given order
                timeline = sorted(events, key=lambda e: e.at)
                setups = {m.name: m for m in machines}
                feed = _Feed(runtime, setups, recorder, start, nursery)
                nursery.start_soon(feed.run, timeline)
                for ref in refs:
                    nursery.start_soon(ref.wait_stopped)
        end = trio.current_time() - start
        stats = {name: runtime.machine_statistics(name) for name in names}
        final = {name: recorder.stopped.get(name, (end, stats[name].state)) for name in names}
        running = frozenset(name for name in names if name not in recorder.stopped)
        dropped = {name: s.events_dropped for name, s in stats.items() if s.events_dropped}
        await runtime.stop()
    return SimulationResult(
        transitions=tuple(recorder.transitions),
        final_states=final,
        events=tuple(recorder.events),
        end_time=end,
        running=running,
        dropped=dropped,
    )


@attrs.define
class _Feed:
    """Feeds the timeline: events to machines, and crashes."""

    runtime: Runtime
    setups: Mapping[str, MachineSetup]
    recorder: _TraceRecorder
    start: float
    nursery: trio.Nursery

    async def run(self, timeline: list[Scheduled]) -> None:
        for item in timeline:
            await trio.sleep_until(self.start + item.at)
            if isinstance(item, ScheduledCrash):
                if item.target in self.runtime.running_names():
                    down = self.runtime.ref(item.target)
                    self.runtime.kill(item.target)
                    self.nursery.start_soon(self._restart, item, down)
                continue
            try:
                ref = self.runtime.ref(item.target)
            except KeyError:
                continue  # that machine has stopped: the event is lost, as it would be live
            await ref.send(item.type, dict(item.payload), source="simulation")

    async def _restart(self, crash: ScheduledCrash, killed: ActorRef) -> None:
        """Start a crashed machine again once it is down: a durable one resumes."""
        await killed.wait_stopped()
        await trio.sleep(crash.down)
        setup = self.setups[crash.target]
        self.recorder.stopped.pop(setup.name, None)
        ref = await self.runtime.spawn(setup.spec, name=setup.name, context=setup.context)
        await ref.wait_stopped()


@contextlib.asynccontextmanager
async def _maybe_store(store: Any) -> AsyncIterator[Any]:
    if store == "memory":
        from statemachine_engine.persistence import open_store

        async with open_store(":memory:", clock=lambda: trio.current_time()) as opened:
            yield opened
    else:
        yield store


def simulate(
    configs: Sequence[str | Path | MachineSpec | MachineSetup],
    events: Sequence[Scheduled | Mapping[str, Any]] | str | Path = (),
    *,
    until: float = 60.0,
    store: Any = "memory",
    actions_dir: str | Path | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Simulate machines from YAML files (or specs) with scripted events; returns the trace.

    ``events``: the path of an EVENTS.yaml, or its entries as a list of dicts
    (``{"at": 1, "target": "worker", "type": "go"}``, ``{"at": 2, "crash": "worker"}``), or
    ScheduledEvent and ScheduledCrash objects.

    Machine names default to ``metadata.machine_name``, else the file stem. ``store`` is
    ``"memory"`` (an in-memory SQLite store), None, or a store object.
    """
    setups: list[MachineSetup] = []
    for config in configs:
        if isinstance(config, MachineSetup):
            setups.append(config)
            continue
        spec = (
            config
            if isinstance(config, MachineSpec)
            else load_config(config, actions_dir=actions_dir)
        )
        setups.append(MachineSetup(spec, spec.default_name))
    seen: set[str] = set()
    for setup in setups:
        if setup.name in seen:
            raise ConfigError(
                f"two simulated machines are named {setup.name!r}; names must be unique"
            )
        seen.add(setup.name)
    if isinstance(events, str | Path):
        scheduled = load_events(events, seen)
    elif all(isinstance(event, ScheduledEvent | ScheduledCrash) for event in events):
        scheduled = [e for e in events if isinstance(e, ScheduledEvent | ScheduledCrash)]
    else:  # dicts, as an EVENTS.yaml holds them: {at, target, type, payload}
        scheduled = parse_events(list(events), machines=seen)

    async def main() -> SimulationResult:
        return await run_simulation(
            setups, scheduled, until=until, store=store, actions_dir=actions_dir
        )

    with _deterministic_scheduling(seed):
        random_state = random.getstate()
        random.seed(seed)
        try:
            return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
        finally:
            random.setstate(random_state)
