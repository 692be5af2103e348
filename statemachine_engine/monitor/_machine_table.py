"""The latest state of every machine: what a new subscriber's snapshot lists.

Kept from the events that pass through the hub, and seeded from the store's registry."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from statemachine_engine.errors import StateMachineError
from statemachine_engine.transport import MachineEvent

logger = logging.getLogger(__name__)

#: Registry columns a snapshot row carries (the published package's shape, plus extras
#: a browser can use); anything else from the store (such as the context) stays out.
SNAPSHOT_KEYS = (
    "machine_name",
    "current_state",
    "config_type",
    "last_activity",
    "metadata",
    "pid",
    "template",
    "last_transition",
)


class Registry(Protocol):
    """What the hub reads from a store at start (every :class:`~statemachine_engine.
    persistence.Store` has it)."""

    async def machines(self) -> Sequence[Mapping[str, Any]]: ...


class MachineTable:
    """Machine name -> its snapshot row, updated by each event the hub relays."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        #: why the registry could not be read at start, if it could not
        self.seed_error: str | None = None

    async def seed(self, store: Registry) -> None:
        """Fill the table from the store's registry (rows already known win)."""
        try:
            rows = await store.machines()
        except (StateMachineError, OSError) as exc:
            self.seed_error = str(exc)
            logger.warning("could not read the machine registry: %s", exc)
            return
        for row in rows:
            name = row.get("machine_name")
            if isinstance(name, str) and name not in self.rows:
                self.rows[name] = {k: row[k] for k in SNAPSHOT_KEYS if k in row}
        logger.info(
            "machine table seeded with %d machine%s from the registry",
            len(rows),
            "" if len(rows) == 1 else "s",
        )

    def listing(self) -> list[dict[str, Any]]:
        """A copy of every row, sorted by machine name."""
        return [dict(self.rows[name]) for name in sorted(self.rows)]

    def apply(self, event: MachineEvent) -> None:
        """Update the table from one event (its timestamp already set)."""
        name, payload = event.machine_name, event.payload
        if event.type == "machine_terminated":
            self.rows.pop(name, None)
            return
        row = self.rows.get(name)
        if event.type == "machine_registered":
            row = self.rows[name] = {
                "machine_name": name,
                "current_state": payload.get("current_state"),
                "config_type": payload.get("config_type"),
                "last_activity": event.timestamp,
            }
            if "template" in payload:
                row["template"] = bool(payload["template"])
        elif event.type == "state_change":
            if row is None:
                row = self.rows[name] = {
                    "machine_name": name,
                    "current_state": None,
                    "config_type": payload.get("config_type"),
                }
            row["current_state"] = payload.get("to_state")
            row["last_activity"] = event.timestamp
            row["last_transition"] = {
                "from_state": payload.get("from_state"),
                "to_state": payload.get("to_state"),
                "event_trigger": payload.get("event_trigger"),
                "timestamp": event.timestamp,
            }
        elif row is not None:
            # activity from a source the table does not know (the CLI) creates no machine
            row["last_activity"] = event.timestamp
