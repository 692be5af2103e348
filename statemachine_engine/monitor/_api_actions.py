"""The operator actions of the monitor's API (``POST /api/...``), each audited.

* ``/api/machines/{name}/events`` ``{"type", "payload"}``: the event is recorded in
  ``machine_events`` and delivered to the machine's control socket, as
  ``statemachine-db send-event`` does; the answer says whether it arrived.
* ``/api/machines/{name}/stop``: a ``stop`` event, as the control protocol's stop.
* ``/api/jobs/{id}/retry`` | ``/cancel`` | ``/requeue``; ``/api/jobs/retry`` with a filter.

The caller (``_http``) has checked the ``Origin`` and the write token: a request that
reaches here is authenticated, so a refusal (unknown machine, bad payload, a job in the
wrong status) is audited with its error as the result.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from statemachine_engine._strict_json import loads
from statemachine_engine.errors import JobNotFound, StoreError
from statemachine_engine.monitor._responses import Response, error
from statemachine_engine.persistence import Browse, JobStateError, records_sql

__all__ = ["ActionApi", "Deliver", "deliver_in_thread"]

#: ``deliver(target, event_type, payload, endpoint)`` -> (delivered, note)
Deliver = Callable[[str, str, Any, "str | None"], Awaitable[tuple[bool, str]]]

#: what the monitor is called as the source of the events it sends
SOURCE = "monitor"
_FILTER_KEYS = ("type", "machine", "q")


def deliver_in_thread(
    *, prefix: str | None = None, event_socket_path: str | None = None, timeout: float = 2.0
) -> Deliver:
    """Delivery through the machine's control socket (in a worker thread: it blocks)."""
    from statemachine_engine.transport import deliver_event

    async def deliver(
        target: str, event_type: str, payload: Any, endpoint: str | None
    ) -> tuple[bool, str]:
        done = await trio.to_thread.run_sync(
            lambda: deliver_event(
                target,
                event_type,
                payload,
                source=SOURCE,
                endpoint=endpoint,
                prefix=prefix,
                event_socket_path=event_socket_path,
                timeout=timeout,
            )
        )
        return done.delivered, done.note

    return deliver


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ActionApi:
    """``POST`` endpoints on ``browse``; ``deliver`` sends events to machines."""

    def __init__(self, browse: Browse, deliver: Deliver) -> None:
        self.browse = browse
        self.deliver = deliver

    async def route(self, parts: list[str], body: bytes, actor: str) -> Response | None:
        """The response for ``POST /api/<parts>``; None when no action has that path."""
        target: str | None
        match parts:
            case ["machines", name, "events"]:
                action, target = "send-event", name
            case ["machines", name, "stop"]:
                action, target = "stop", name
            case ["jobs", "retry"]:
                action, target = "bulk-retry", None
            case ["jobs", job_id, ("retry" | "cancel" | "requeue") as verb]:
                action, target = verb, job_id
            case _:
                return None
        detail: dict[str, Any] = {}
        try:
            return await self._act(action, target, body, actor, detail)
        except _Refused as refusal:
            await self._audit(actor, action, target, detail, str(refusal))
            return error(refusal.status, str(refusal))
        except JobNotFound as exc:  # audited by the store
            return error(404, f"unknown job {exc.job_id!r}")
        except JobStateError as exc:  # audited by the store
            return error(409, str(exc))
        except StoreError as exc:
            return error(503, f"the database cannot be written: {exc}")

    async def _act(
        self, action: str, target: str | None, body: bytes, actor: str, detail: dict[str, Any]
    ) -> Response:
        if action in ("retry", "cancel", "requeue"):
            assert target is not None
            _object(body, allowed=())
            do = {
                "retry": self.browse.retry_job,
                "cancel": self.browse.cancel_job,
                "requeue": self.browse.requeue_job,
            }[action]
            return Response.json({"ok": True, "job": await do(target, actor=actor)})
        if action == "bulk-retry":
            given = _object(body, allowed=_FILTER_KEYS)
            for key, value in given.items():
                if value is not None and not isinstance(value, str):
                    raise _Refused(400, f"bad filter: {key!r} must be a string")
            ids = await self.browse.retry_jobs(
                actor=actor,
                job_type=given.get("type") or None,
                machine_type=given.get("machine") or None,
                q=given.get("q") or None,
            )
            return Response.json({"ok": True, "retried": len(ids), "job_ids": ids})
        assert target is not None
        return await self._send(action, target, body, actor, detail)

    async def _send(
        self, action: str, name: str, body: bytes, actor: str, detail: dict[str, Any]
    ) -> Response:
        machine = await self.browse.machine(name)
        if machine is None:
            raise _Refused(404, f"unknown machine {name!r}: the database has no record of it")
        event_type: Any
        payload: Any
        if action == "stop":
            event_type, payload = "stop", {}
            if machine["status"] != "running":
                raise _Refused(409, f"machine {name!r} is {machine['status']}, not running")
        else:
            given = _object(body, allowed=("type", "payload"))
            event_type, payload = given.get("type"), given.get("payload", {})
            if not isinstance(event_type, str) or not event_type.strip():
                raise _Refused(400, "bad event: 'type' must be a non-empty string")
            if payload is None:
                payload = {}
            if not isinstance(payload, dict):
                raise _Refused(400, "bad payload: 'payload' must be a JSON object")
        detail.update(type=event_type, payload=payload)
        event_id = await self.browse.write(
            lambda conn, now: records_sql.insert_event(
                conn,
                source_machine=SOURCE,
                target_machine=name,
                event_type=event_type,
                job_id=None,
                payload=json.dumps(payload, separators=(",", ":")) if payload else None,
                status="pending",
                now=now,
            )
        )
        delivered, note = await self.deliver(name, event_type, payload, machine.get("endpoint"))
        await self.browse.write(
            lambda conn, now: records_sql.mark_event_delivered(
                conn, event_id, now=now, delivered=delivered
            )
        )
        status = "delivered" if delivered else "undelivered"
        detail.update(status=status, note=note)
        await self._audit(
            actor, action, name, detail, "ok" if delivered else f"undelivered: {note}"
        )
        return Response.json({"ok": True, "delivered": delivered, "status": status, "note": note})

    async def _audit(
        self, actor: str, action: str, target: str | None, detail: Mapping[str, Any], result: str
    ) -> None:
        await self.browse.audit(
            actor=actor, action=action, target=target, detail=detail or None, result=result
        )


def _object(body: bytes, *, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with only ``allowed`` keys (empty body: ``{}``)."""
    if not body.strip():
        return {}
    try:
        value = loads(body)
    except ValueError as exc:  # malformed JSON, NaN or Infinity
        raise _Refused(400, f"bad payload: the body is not standard JSON ({exc})") from None
    if not isinstance(value, dict):
        raise _Refused(400, f"bad payload: the body must be a JSON object, not {_kind(value)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no keys"
        raise _Refused(400, f"bad payload: unknown key {unknown[0]!r} (this action takes {takes})")
    return value


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else "a number"
