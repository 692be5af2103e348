"""How a runtime process reaches machines: the control server's router (events in) and the
transport to machines of other runtimes (events out), both through the runtime's API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from statemachine_engine.actors import Runtime
from statemachine_engine.persistence import Store
from statemachine_engine.transport import JOB_DOORBELL, Message, SocketTransport


def registry_transport(store: Store, prefix: str | None) -> SocketTransport:
    """The transport to machines of other runtimes, found through the store's registry
    (their ``endpoint``), else by the path convention ``{prefix}-{name}.sock``."""

    async def lookup(target: str) -> str | None:
        row = await store.machine(target)
        return str(row["endpoint"]) if row and row.get("endpoint") else None

    return SocketTransport(lookup, prefix=prefix)


def make_router(
    runtime: Runtime, primary: str | None, store: Store
) -> Callable[[Message], Awaitable[Mapping[str, Any] | None]]:
    """The control server's router: doorbells to the store, events to machines by target
    (a message without ``target`` goes to ``primary``). An event the machine will surely
    not handle (it waits idle in a state with no transition for it) is acknowledged with
    ``"handled": false`` and that state."""

    async def route(message: Message) -> Mapping[str, Any] | None:
        if message.type == JOB_DOORBELL:
            payload = message.payload if isinstance(message.payload, dict) else {}
            store.notify_job_added(payload.get("machine_type"))
            return None
        target = message.target or primary
        if target is None:
            running = runtime.running_names()
            shown = ", ".join(running[:10]) + (
                f" and {len(running) - 10} more" if running[10:] else ""
            )
            raise ValueError(
                "this runtime runs a project of several machines: the message needs a "
                f"'target' ({shown or 'none is running now'})"
            )
        if message.target is None:
            message = attrs.evolve(message, target=target)
        state = await runtime.deliver_local(message)
        return None if state is None else {"handled": False, "state": state}

    return route
