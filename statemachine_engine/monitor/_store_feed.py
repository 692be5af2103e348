"""The store feed: machine events of every host, read from a PostgreSQL database's history.

A monitor hears the machines of its own host on the event socket. Those of other hosts reach
it through the database they share: each runtime's writer sends one NOTIFY on the history
channel per committed batch that wrote history; the feed, woken by it (or by its slow poll),
reads the rows added since the last it saw -- by id, table by table -- and the registry, and
publishes them to the hub as the runtime would have:

* a registry row of another host that appears: ``machine_registered``; one that goes:
  ``machine_terminated``;
* a ``state_transitions`` row: ``state_change``; an ``errors`` row: ``error``.

Machines whose registry row names this monitor's host are left to the event socket (the
feed would show each of their events twice).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.persistence import Notices, connect_postgres, remote_sql
from statemachine_engine.transport import MachineEvent, Publisher

__all__ = ["StoreFeed"]

logger = logging.getLogger(__name__)

#: seconds between two reads when no notification came
POLL_INTERVAL = 2.0


class StoreFeed:
    """Publishes to ``hub`` what the machines of other hosts record in the database at
    ``url``; :meth:`run` until cancelled."""

    def __init__(
        self,
        url: str,
        hub: Publisher,
        *,
        host: str | None = None,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._url = url
        self._hub = hub
        self.host = host if host is not None else remote_sql.host_name()
        self._poll = poll_interval
        self._conn: Any = None
        self._after: dict[str, int] | None = None
        #: machines of other hosts seen in the registry: name -> its row
        self._others: dict[str, Mapping[str, Any]] = {}
        #: the host of every machine the registry named (kept once its row is gone)
        self._hosts: dict[str, str | None] = {}
        #: the last state a transition of a machine of another host entered
        self._states: dict[str, str] = {}
        #: events published, reads that failed (tests, statistics)
        self.published = 0
        self.failures = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        notices = Notices(self._url, [remote_sql.HISTORY_CHANNEL])
        try:
            await notices.start()
            await self.read()  # where the history ends now, and who runs elsewhere
            task_status.started()
            while True:
                await notices.wait(self._poll)
                await self.read()
        finally:
            with trio.CancelScope(shield=True):
                await notices.stop()
                if self._conn is not None:
                    await trio.to_thread.run_sync(self._conn.close)

    async def read(self) -> int:
        """Read what is new and publish it; how many events. A failed read is logged and
        tried again at the next wake-up (the server away, the schema not made yet)."""
        try:
            rows = await trio.to_thread.run_sync(self._read_rows)
        except Exception as exc:
            self.failures += 1
            if worth_logging(self.failures):  # a server away for long logs now and then
                logger.warning(
                    "reading the history of other hosts failed (%s; %d so far); will retry",
                    exc,
                    self.failures,
                )
            conn, self._conn = self._conn, None
            if conn is not None:
                await trio.to_thread.run_sync(_close_quietly, conn)
            return 0
        events = self._events(rows)
        for event in events:
            self._hub.publish(event)
        self.published += len(events)
        return len(events)

    def _read_rows(self) -> dict[str, Sequence[dict[str, Any]]]:
        """In a worker thread: the rows after the last seen (at the first read, none)."""
        if self._conn is None:
            self._conn = connect_postgres(self._url, migrate=False)
        if self._after is None:
            self._after = remote_sql.last_ids(self._conn)
        return remote_sql.history_since(self._conn, self._after)

    def _events(self, rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[MachineEvent]:
        registry = {row["machine_name"]: row for row in rows["machine_state"]}
        for name, row in registry.items():
            self._hosts[name] = row.get("host")
        others = {n: r for n, r in registry.items() if r.get("host") != self.host}
        events = [
            MachineEvent(
                name,
                "machine_registered",
                {
                    "machine_name": name,
                    "config_type": row.get("config_type"),
                    "current_state": row.get("current_state"),
                },
                0.0,
            )
            for name, row in others.items()
            if name not in self._others
        ]
        history: list[tuple[float, int, MachineEvent]] = []
        assert self._after is not None
        for row in rows["state_transitions"]:
            self._after["state_transitions"] = max(self._after["state_transitions"], row["id"])
            if self._elsewhere(row["machine_name"]):
                history.append((row["timestamp"] or 0.0, row["id"], _state_change(row)))
                self._states[row["machine_name"]] = row["to_state"]
        for row in rows["errors"]:
            self._after["errors"] = max(self._after["errors"], row["id"])
            if self._elsewhere(row["machine_name"]):
                history.append((row["timestamp"] or 0.0, row["id"], _error(row)))
        events.extend(event for _, _, event in sorted(history, key=lambda h: (h[0], h[1])))
        for name, row in self._others.items():
            if name not in others:
                events.append(
                    MachineEvent(
                        name,
                        "machine_terminated",
                        {
                            "machine_name": name,
                            "config_type": row.get("config_type"),
                            # the registry row is updated once a batch: the last transition
                            # read may be newer
                            "final_state": self._states.pop(name, row.get("current_state")),
                        },
                        0.0,
                    )
                )
        self._others = others
        return events

    def _elsewhere(self, machine: str) -> bool:
        """Whether ``machine`` runs on another host (unknown: it may; shown)."""
        return self._hosts.get(machine, None) != self.host


def _state_change(row: Mapping[str, Any]) -> MachineEvent:
    return MachineEvent(
        row["machine_name"],
        "state_change",
        {
            "from_state": row["from_state"],
            "to_state": row["to_state"],
            "event_trigger": row["event"],
            "timestamp": row["timestamp"],
        },
        float(row["timestamp"] or 0.0),
    )


def _error(row: Mapping[str, Any]) -> MachineEvent:
    return MachineEvent(
        row["machine_name"],
        "error",
        {
            "error_message": row["message"],
            "state": row["state"],
            "action": row["action"],
            "job_id": row["job_id"],
        },
        float(row["timestamp"] or 0.0),
    )


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # the connection was lost already
        logger.debug("closing a lost connection failed", exc_info=True)
