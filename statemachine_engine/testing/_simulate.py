"""Deterministic simulation: machines in one trio run under MockClock, scripted events.

The same YAML and actions that run in production run here; time is virtual, so an hour of
timeouts takes milliseconds, and the same input always gives the same trace.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio
import trio.testing

from statemachine_engine.actors import Runtime, open_runtime
from statemachine_engine.config import MachineSpec, load_config, load_yaml
from statemachine_engine.errors import ConfigError, ConfigIssue
from statemachine_engine.transport import FanoutPublisher, MachineEvent, Publisher


@attrs.frozen
class ScheduledEvent:
    """An event fed to ``target`` at virtual time ``at`` (seconds from the start)."""

    at: float
    target: str
    type: str
    payload: Mapping[str, Any] = attrs.field(factory=dict)


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


def load_events(path: str | Path, machines: Collection[str] | None = None) -> list[ScheduledEvent]:
    """Read an EVENTS.yaml: a list of ``{at, target, type, payload}``.

    With ``machines``, a target that names none of them is an error at its place in the file.
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read events file: {exc.strerror}", file=file) from None
    data, positions = load_yaml(text, file)
    return parse_events(data, file=file, positions=positions, machines=machines)


def parse_events(
    data: Any,
    *,
    file: str | None = None,
    positions: Mapping[Any, tuple[int, int]] | None = None,
    machines: Collection[str] | None = None,
) -> list[ScheduledEvent]:
    positions = positions or {}
    issues: list[ConfigIssue] = []

    def bad(path: tuple[Any, ...], message: str) -> None:
        at = path
        while at and at not in positions:  # a missing key: point at the item holding it
            at = at[:-1]
        line, col = positions.get(at, (None, None))
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        issues.append(ConfigIssue(message, path=where, file=file, line=line, column=col))

    if data is None:
        return []
    if not isinstance(data, list):
        bad((), "an events file is a list of {at, target, type, payload}")
        raise ConfigError(issues, file=file)
    events: list[ScheduledEvent] = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            bad((i,), "expected a mapping with at, target, type and optional payload")
            continue
        at, target, kind = item.get("at", 0), item.get("target"), item.get("type")
        payload = item.get("payload") or {}
        ok = True
        if not isinstance(at, int | float) or isinstance(at, bool) or at < 0:
            bad((i, "at"), f"'at' must be a number of seconds >= 0, got {at!r}")
            ok = False
        if not isinstance(target, str) or not target:
            bad((i, "target"), "'target' must name a machine")
            ok = False
        elif machines is not None and target not in machines:
            bad(
                (i, "target"),
                f"no simulated machine is named {target!r}; "
                f"machines: {', '.join(sorted(machines))}",
            )
            ok = False
        if not isinstance(kind, str) or not kind:
            bad((i, "type"), "'type' must name an event")
            ok = False
        if not isinstance(payload, Mapping):
            bad((i, "payload"), "'payload' must be a mapping")
            ok = False
        unknown = set(item) - {"at", "target", "type", "payload"}
        if unknown:
            bad(
                (i,),
                f"unknown keys {', '.join(sorted(map(str, unknown)))}; "
                "use at, target, type, payload",
            )
            ok = False
        if ok:
            events.append(ScheduledEvent(float(at), str(target), str(kind), dict(payload)))
    if issues:
        raise ConfigError(issues, file=file)
    return sorted(events, key=lambda e: e.at)  # stable: same-time events keep file order


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
    events: Sequence[ScheduledEvent] = (),
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
                nursery.start_soon(_feed, runtime, timeline, start)
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


async def _feed(runtime: Runtime, events: list[ScheduledEvent], start: float) -> None:
    for event in events:
        await trio.sleep_until(start + event.at)
        try:
            ref = runtime.ref(event.target)
        except KeyError:
            continue  # that machine has stopped: the event is lost, as it would be live
        await ref.send(event.type, dict(event.payload), source="simulation")


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
    events: Sequence[ScheduledEvent | Mapping[str, Any]] | str | Path = (),
    *,
    until: float = 60.0,
    store: Any = "memory",
    actions_dir: str | Path | None = None,
    seed: int = 0,
) -> SimulationResult:
    """Simulate machines from YAML files (or specs) with scripted events; returns the trace.

    ``events``: the path of an EVENTS.yaml, or its entries as a list of dicts
    (``{"at": 1, "target": "worker", "type": "go"}``), or ScheduledEvent objects.

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
    elif all(isinstance(event, ScheduledEvent) for event in events):
        scheduled = [event for event in events if isinstance(event, ScheduledEvent)]
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
