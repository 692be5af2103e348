"""The monitor's read API over the store: machines (running and ended), their timelines,
the activity log, jobs, statistics, search and the audit log.

Each handler answers one ``GET /api/...``; parameters come from the query string and a bad
one is a 400 naming it. Without a database the store's endpoints answer 503, except
``/api/machines``, which then lists the hub's live machines in the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from statemachine_engine.errors import StoreError
from statemachine_engine.monitor._hub import MonitorHub
from statemachine_engine.monitor._responses import Response, error

if TYPE_CHECKING:
    from statemachine_engine.persistence import Browse

__all__ = ["NO_DATABASE", "ReadApi", "int_param"]

NO_DATABASE = (
    "this monitor reads no database: start it with --db PATH (the database the runtime writes)"
)
_DEFAULT_LIMIT = 50
_MACHINE_LIMIT = 500


class BadParameter(ValueError):
    """A query parameter that is not what the endpoint takes."""


def int_param(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BadParameter(f"{name}={text!r} is not a whole number") from None


class ReadApi:
    """``GET`` endpoints on ``browse`` (None: no database) and the ``hub``."""

    def __init__(self, browse: Browse | None, hub: MonitorHub) -> None:
        self.browse = browse
        self.hub = hub

    async def route(self, parts: list[str], query: Mapping[str, str]) -> Response | None:
        """The response for ``/api/<parts>``; None when no read endpoint has that path."""
        try:
            return await self._route(parts, query)
        except _NoDatabase:
            return error(503, NO_DATABASE)
        except ValueError as exc:  # a parameter (BadParameter) or the store's check of it
            return error(400, str(exc))
        except StoreError as exc:
            return error(503, f"the database cannot be read: {exc}")

    async def _route(self, parts: list[str], query: Mapping[str, str]) -> Response | None:
        match parts:
            case ["machines"]:
                return await self._machines(query)
            case ["machines", "live"]:
                # the hub's table, as this endpoint answered before the store was read
                return Response.json(self.hub.snapshot()["machines"])
            case ["machines", name]:
                browse = self._needs()
                machine = await browse.machine(name)
                if machine is None:
                    return _unknown(name)
                return Response.json({"machine": machine})
            case ["machines", name, "history"]:
                browse = self._needs()
                if await browse.machine(name) is None:
                    return _unknown(name)
                page = await browse.history(name, **_timeline_args(query))
                return Response.json({"machine": name, **page})
            case ["activity"]:
                return Response.json(await self._needs().history(None, **_timeline_args(query)))
            case ["jobs"]:
                return Response.json(
                    await self._needs().jobs(
                        status=query.get("status") or None,
                        job_type=query.get("type") or None,
                        machine_type=query.get("machine") or None,
                        q=query.get("q") or None,
                        limit=int_param(query, "limit", _DEFAULT_LIMIT),
                        before=query.get("before") or None,
                    )
                )
            case ["jobs", "stats"]:
                minutes = int_param(query, "minutes", 60)
                return Response.json(await self._needs().stats(minutes=minutes))
            case ["jobs", job_id]:
                job = await self._needs().job(job_id)
                if job is None:
                    return error(404, f"unknown job {job_id!r}")
                return Response.json({"job": job})
            case ["search"]:
                q = query.get("q", "").strip()
                if not q:
                    raise BadParameter("q= is missing: search needs some text")
                return Response.json(await self._needs().search(q))
            case ["audit"]:
                return Response.json(
                    await self._needs().audit_entries(
                        limit=int_param(query, "limit", _DEFAULT_LIMIT),
                        before=query.get("before") or None,
                    )
                )
        return None

    def _needs(self) -> Browse:
        if self.browse is None:
            raise _NoDatabase
        return self.browse

    async def _machines(self, query: Mapping[str, str]) -> Response:
        status = query.get("status") or None
        q = query.get("q") or None
        limit = int_param(query, "limit", _MACHINE_LIMIT)
        if self.browse is not None:
            page = await self.browse.machines(
                status=status, q=q, limit=limit, before=query.get("before") or None
            )
            return Response.json(page)
        return Response.json(_live_page(self.hub, status, q))


class _NoDatabase(StoreError):
    """A store endpoint asked of a monitor without a database."""


def _unknown(name: str) -> Response:
    return error(404, f"unknown machine {name!r}: the database has no record of it")


def _timeline_args(query: Mapping[str, str]) -> dict[str, Any]:
    kind = query.get("kind") or None
    args: dict[str, Any] = {
        "limit": int_param(query, "limit", _DEFAULT_LIMIT),
        "before": query.get("before") or None,
    }
    if kind is not None:
        args["kinds"] = [k.strip() for k in kind.split(",") if k.strip()]
    return args


def _live_page(hub: MonitorHub, status: str | None, q: str | None) -> dict[str, Any]:
    """The hub's machines in the store's shape: all running (the hub forgets the others)."""
    machines = [
        {
            "name": row.get("machine_name"),
            "config": row.get("config_type"),
            "state": row.get("current_state"),
            "status": "running",
            "started_at": None,
            "updated_at": row.get("last_activity"),
            "job_id": None,
            "last_event": None,
            "durable": False,
            "host": None,
        }
        for row in hub.snapshot()["machines"]
    ]
    counts = {"running": len(machines), "finished": 0, "failed": 0, "stopped": 0}
    counts["all"] = len(machines)
    if status not in (None, "all", "running"):
        machines = []
    if q:
        needle = q.lower()
        machines = [
            m for m in machines if needle in f"{m['name']} {m['config']} {m['state']}".lower()
        ]
    return {"machines": machines, "counts": counts, "next_before": None}
