"""Calling the monitor's ASGI app directly (no sockets), and a database with some history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from statemachine_engine.monitor import MonitorApp
from statemachine_engine.persistence import open_store

T0 = 1_700_000_000.0
TOKEN = "write-token-for-tests-0123456789"


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        assert self.headers["content-type"] == "application/json", self.body
        return json.loads(self.body)

    @property
    def error(self) -> str:
        message: str = self.json()["error"]
        return message


async def call(
    app: MonitorApp,
    path: str,
    *,
    method: str = "GET",
    query: dict[str, Any] | None = None,
    body: bytes | Any = b"",
    headers: dict[str, str] | None = None,
    client: str = "127.0.0.1",
) -> Reply:
    """One request; a ``body`` that is not bytes is sent as JSON."""
    sent: list[dict[str, Any]] = []
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    chunks = [data[:5], data[5:]]  # in two parts, as a client may send it

    async def receive() -> dict[str, Any]:
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    all_headers = {"host": "127.0.0.1:3001", **{k.lower(): v for k, v in (headers or {}).items()}}
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": urlencode(query or {}).encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items()],
        "client": (client, 50000),
    }
    await app(scope, receive, send)
    start, reply = sent
    return Reply(
        start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, reply["body"]
    )


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seed(path: Path | str) -> None:
    """A database with a finished, a failed, a running machine and some jobs."""
    async with open_store(path, clock=lambda: T0 + 100) as store:
        for i, name in enumerate(["done", "crashed", "busy"]):
            store.machine_started(
                name, current_state="idle", config_type="worker", pid=None, endpoint=None,
                timestamp=T0 + i,
            )  # fmt: skip
            store.transition(name, from_state="idle", to_state="working", event="go",
                             timestamp=T0 + 10 + i)  # fmt: skip
        store.activity("done", message="step 1", level="info", fields={}, timestamp=T0 + 20)
        store.transition("done", from_state="working", to_state="finished", event="end",
                         timestamp=T0 + 21)  # fmt: skip
        store.machine_stopped("done")
        store.error("crashed", state="working", action="(runtime)", message="machine crashed",
                    traceback=None, timestamp=T0 + 22)  # fmt: skip
        store.machine_stopped("crashed")
        for job_id in ("job-failed", "job-pending", "job-held", "job-done"):
            await store.add_job(job_id, "worker")
        for job_id in ("job-failed", "job-held", "job-done"):
            assert await store.claim(job_id, worker="w") is not None
        await store.fail("job-failed", error="broken", retry=False, worker="w")
        await store.complete("job-done", worker="w")
        await store.flush()
