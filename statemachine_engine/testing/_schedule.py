"""What a simulation is fed: events for machines, and crashes, at virtual instants.

An EVENTS.yaml is a list of ``{at, target, type, payload}`` (an event sent to ``target``
``at`` seconds from the start) and of ``{at, crash: MACHINE, down: SECONDS}`` (the machine
stops as kill -9 would stop its process, and is started again ``down`` seconds later: a
durable machine resumes from its checkpoint, any other starts afresh).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import attrs

from statemachine_engine.config import load_yaml
from statemachine_engine.errors import ConfigError, ConfigIssue


@attrs.frozen
class ScheduledEvent:
    """An event fed to ``target`` at virtual time ``at`` (seconds from the start)."""

    at: float
    target: str
    type: str
    payload: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class ScheduledCrash:
    """Machine ``target`` crashes at virtual time ``at`` and starts again ``down`` seconds
    later."""

    at: float
    target: str
    down: float = 0.0


Scheduled = ScheduledEvent | ScheduledCrash


def load_events(path: str | Path, machines: Collection[str] | None = None) -> list[Scheduled]:
    """Read an EVENTS.yaml: a list of ``{at, target, type, payload}`` and of crashes,
    ``{at, crash: MACHINE, down: SECONDS}``.

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
) -> list[Scheduled]:
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
    events: list[Scheduled] = []
    for i, item in enumerate(data):
        if not isinstance(item, Mapping):
            bad((i,), "expected a mapping with at, target, type and optional payload")
            continue
        if "crash" in item:
            crash = _crash(item, (i,), bad, machines)
            if crash is not None:
                events.append(crash)
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


def _crash(
    item: Mapping[str, Any],
    where: tuple[Any, ...],
    bad: Callable[[tuple[Any, ...], str], None],
    machines: Collection[str] | None,
) -> ScheduledCrash | None:
    at, target, down = item.get("at", 0), item.get("crash"), item.get("down", 0)
    ok = True
    for key, value in (("at", at), ("down", down)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            bad((*where, key), f"{key!r} must be a number of seconds >= 0, got {value!r}")
            ok = False
    if not isinstance(target, str) or not target:
        bad((*where, "crash"), "'crash' must name a machine")
        ok = False
    elif machines is not None and target not in machines:
        bad(
            (*where, "crash"),
            f"no simulated machine is named {target!r}; machines: {', '.join(sorted(machines))}",
        )
        ok = False
    unknown = set(item) - {"at", "crash", "down"}
    if unknown:
        bad(where, f"unknown keys {', '.join(sorted(map(str, unknown)))}; use at, crash, down")
        ok = False
    return ScheduledCrash(float(at), str(target), float(down)) if ok else None
