"""``statemachine-events``: print live machine events.

It subscribes to the monitor's WebSocket when one runs; otherwise it listens on the event
socket itself (so it works with no monitor at all). With a PostgreSQL database (``--db
URL``) it follows the machines of every host through the database instead, as the
monitor's store feed does: what their runtimes record (registrations, state changes,
errors, ends), not what they only publish (activity lines, job events).
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, TextIO

import attrs
import trio

from statemachine_engine import _strict_json
from statemachine_engine.errors import StoreError, TransportError
from statemachine_engine.transport import MachineEvent

log = logging.getLogger(__name__)


@attrs.define
class EventPrinter:
    """Formats events as ``human``, ``json`` or ``compact`` lines, filtered by machine name."""

    format: str = "human"
    machine: str | None = None
    out: TextIO = attrs.field(factory=lambda: sys.stdout)
    count: int = 0

    def show(self, data: Mapping[str, Any]) -> None:
        kind = data.get("type")
        if kind in ("ping", "pong"):
            return
        if kind == "initial":
            if self.format == "human":
                machines = [
                    m
                    for m in data.get("machines", [])
                    if self.machine is None or m.get("machine_name") == self.machine
                ]
                summary = ", ".join(
                    f"{m.get('machine_name')}={m.get('current_state')}" for m in machines
                )
                count = f"{len(machines)} machine{'' if len(machines) == 1 else 's'}"
                self.out.write(f"# {count} running: {summary or '-'}\n")
                self.out.flush()
            return
        if self.machine is not None and data.get("machine_name") != self.machine:
            return
        self.count += 1
        if self.format == "json":
            self.out.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
        elif self.format == "compact":
            self.out.write(compact(data) + "\n")
        else:
            self.out.write(human(data) + "\n")
        self.out.flush()


def compact(data: Mapping[str, Any]) -> str:
    """One short line, as the published package's ``--format compact`` prints it."""
    payload = data.get("payload") or {}
    machine = data.get("machine_name", "unknown")
    kind = data.get("type")
    if kind == "state_change":
        return f"{machine} → {payload.get('to_state')}"
    if kind == "job_started":
        return f"{machine} ▶️ {payload.get('job_id')}"
    if kind == "job_completed":
        return f"{machine} ✅ {payload.get('job_id')}"
    return f"{machine} • {kind}"


def human(data: Mapping[str, Any]) -> str:
    payload = data.get("payload") or {}
    stamp = data.get("timestamp") or payload.get("timestamp")
    when = (
        datetime.datetime.fromtimestamp(float(stamp)).strftime("%H:%M:%S.%f")[:-3]
        if isinstance(stamp, int | float)
        else "--:--:--.---"
    )
    machine = data.get("machine_name", "?")
    kind = data.get("type")
    if kind == "state_change":
        text = (
            f"{payload.get('from_state')} --{payload.get('event_trigger')}--> "
            f"{payload.get('to_state')}"
        )
    elif kind == "activity_log":
        text = f"[{payload.get('level', 'info')}] {payload.get('message', '')}"
    elif kind == "error":
        text = f"ERROR {payload.get('error_message', '')}"
    elif kind in ("job_started", "job_completed"):
        text = f"{kind.replace('_', ' ')} {payload.get('job_id')}"
    elif kind == "machine_registered":
        text = f"registered ({payload.get('config_type')}) in {payload.get('current_state')}"
    elif kind == "machine_terminated":
        text = f"terminated in {payload.get('final_state')} ({payload.get('reason', '')})"
    else:
        text = f"{kind} {json.dumps(dict(payload), default=str)}"
    return f"[{when}] {machine}: {text}"


async def follow(
    show: Callable[[Mapping[str, Any]], None],
    *,
    host: str,
    port: int,
    event_socket_path: str,
    announce: Callable[[str], None],
    token: str | None = None,
) -> None:
    """Follow events from the monitor's WebSocket (sending ``token`` as a bearer token
    when given), else from the event socket. TransportError when the monitor wants a token
    this call does not have."""
    from trio_websocket import (
        ConnectionClosed,
        ConnectionRejected,
        HandshakeError,
        open_websocket_url,
    )

    url = f"ws://{host}:{port}/ws/events"
    headers = [(b"authorization", f"Bearer {token}".encode())] if token else None
    connected = False
    try:
        async with open_websocket_url(
            url, connect_timeout=2, disconnect_timeout=1, extra_headers=headers
        ) as ws:
            connected = True
            announce(f"following {url}")
            while True:
                message = await ws.get_message()
                try:
                    show(_strict_json.loads(message))
                except ValueError:
                    continue
    except ConnectionClosed:
        announce("the monitor closed the connection")
        return
    except ConnectionRejected as exc:
        if exc.status_code in (401, 403):
            from statemachine_engine.errors import TransportError

            raise TransportError(
                f"the monitor at {url} refused the connection ({exc.status_code}): it needs its"
                " token -- pass --token or set $STATEMACHINE_UI_TOKEN"
                + (" (the one given was not accepted)" if token else "")
            ) from None
        log.debug("no monitor at %s (%s)", url, exc)
    except (OSError, HandshakeError) as exc:
        if connected:
            raise
        log.debug("no monitor at %s (%s)", url, exc)

    from statemachine_engine.transport import EventListener

    async def handle(event: MachineEvent) -> None:
        show(event.to_dict())

    listener = EventListener(handle, event_socket_path)
    async with trio.open_nursery() as nursery:
        await nursery.start(listener.run)
        announce(f"no monitor at {url}; listening on {event_socket_path}")
        await trio.sleep_forever()


async def follow_database(
    show: Callable[[Mapping[str, Any]], None], url: str, *, announce: Callable[[str], None]
) -> None:
    """Follow the machines of every host (this one's too) through the PostgreSQL database
    at ``url``: what their runtimes record there, as it is committed."""
    from statemachine_engine.monitor import StoreFeed
    from statemachine_engine.persistence import connect_postgres, redact_db

    # the connection checked at start: a wrong URL or a server away is one line, exit 1
    # (the feed itself retries for as long as it runs); the schema made, as every command
    # does on first use, so that the feed's first read marks where the history ends
    checked = await trio.to_thread.run_sync(partial(connect_postgres, url))
    await trio.to_thread.run_sync(checked.close)

    class Shown:
        def publish(self, event: MachineEvent) -> None:
            show(event.to_dict())

    # the feed leaves the machines of its own host to the event socket; no host is named
    # "" (a runtime's host is its $STATEMACHINE_HOST or host name), so it shows them all
    feed = StoreFeed(url, Shown(), host="")
    async with trio.open_nursery() as nursery:
        await nursery.start(feed.run)
        announce(f"following the machines of every host in {redact_db(url)}")
        await trio.sleep_forever()


def print_events(
    *,
    machine: str | None,
    format: str,
    duration: float | None,
    host: str,
    port: int,
    event_socket_path: str,
    token: str | None = None,
    db: str | None = None,
) -> int:
    """Print events as they come until ``duration`` passes (forever when None) or Ctrl-C;
    the exit status of ``statemachine-events``. ``db``: a PostgreSQL URL to follow
    instead of the monitor or the event socket."""
    printer = EventPrinter(format=format, machine=machine)

    def announce(text: str) -> None:
        if format != "json":  # (json output is for programs: nothing but the events)
            print(f"# {text}", file=sys.stderr)

    async def main() -> None:
        with trio.move_on_after(duration if duration is not None else float("inf")):
            if db is not None:
                await follow_database(printer.show, db, announce=announce)
                return
            await follow(
                printer.show,
                host=host,
                port=port,
                event_socket_path=event_socket_path,
                announce=announce,
                token=token,
            )

    try:
        trio.run(main)
    except (TransportError, StoreError) as exc:
        print(f"statemachine-events: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    announce(f"{printer.count} event{'' if printer.count == 1 else 's'}")
    return 0
