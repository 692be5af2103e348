"""The monitor's operator actions: the write guard (token, Origin), every action, every
refusal, and the audit row each leaves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from api_support import TOKEN, bearer, call, seed

from statemachine_engine.monitor import MonitorApp, MonitorHub
from statemachine_engine.persistence import (
    Browse,
    browse_file,
    connect,
    connect_postgres,
    is_db_url,
)


class Deliveries:
    """A fake control socket: records what was sent, answers ``delivered``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any, str | None]] = []
        self.delivered = True

    async def __call__(
        self, target: str, event_type: str, payload: Any, endpoint: str | None
    ) -> tuple[bool, str]:
        self.sent.append((target, event_type, payload, endpoint))
        if self.delivered:
            return True, f"acknowledged by /tmp/{target}.sock"
        return False, f"no control socket for {target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every action runs on a SQLite file and on a PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "db.sqlite")


@pytest.fixture
async def browse(database: str) -> AsyncIterator[Browse]:
    await seed(database)
    browse = browse_file(database)
    yield browse
    browse.close()


@pytest.fixture
def deliveries() -> Deliveries:
    return Deliveries()


@pytest.fixture
def app(browse: Browse, deliveries: Deliveries) -> MonitorApp:
    return MonitorApp(MonitorHub(), browse=browse, write_token=TOKEN, deliver=deliveries)


async def audit_log(browse: Browse) -> list[tuple[str, str, str | None, str]]:
    entries = (await browse.audit_entries())["entries"]
    return [(e["actor"], e["action"], e["target"], e["result"]) for e in entries]


def recorded_events(database: str) -> list[dict[str, Any]]:
    conn = connect_postgres(database) if is_db_url(database) else connect(database)
    try:
        return list(conn.execute("SELECT * FROM machine_events ORDER BY id"))
    finally:
        conn.close()


async def post(app: MonitorApp, path: str, body: Any = b"", **kwargs: Any) -> Any:
    return await call(app, path, method="POST", body=body, headers=bearer(), **kwargs)


# -- the guard: nothing is done, nothing audited --------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "status", "message"),
    [
        ({}, {}, 401, "needs the monitor's write token"),
        ({"Authorization": "Bearer wrong"}, {}, 401, "write token"),
        ({"Authorization": TOKEN}, {}, 401, "write token"),  # no scheme
        ({"Cookie": f"statemachine_ui_token_3001={TOKEN}"}, {}, 401, "write token"),
        ({}, {"token": TOKEN}, 401, "write token"),  # a link's token is for reads
        ({**bearer(), "Origin": "http://evil.example"}, {}, 403, "'http://evil.example'"),
        ({**bearer(), "Host": "evil.example"}, {}, 403, "does not answer to host"),
    ],
)
async def test_refused_before_anything_is_done(
    app: MonitorApp,
    browse: Browse,
    headers: dict[str, str],
    query: dict[str, str],
    status: int,
    message: str,
) -> None:
    reply = await call(
        app, "/api/jobs/job-failed/retry", method="POST", headers=headers, query=query
    )
    assert reply.status == status
    assert message in reply.error
    assert (await browse.job("job-failed") or {})["status"] == "failed"
    assert await audit_log(browse) == []


async def test_the_page_of_the_monitor_itself_may_act(app: MonitorApp) -> None:
    headers = {**bearer(), "Origin": "http://127.0.0.1:3001"}
    reply = await call(app, "/api/jobs/job-failed/retry", method="POST", headers=headers)
    assert reply.status == 200


async def test_a_monitor_without_a_write_token_takes_no_actions(browse: Browse) -> None:
    app = MonitorApp(MonitorHub(), browse=browse)
    reply = await post(app, "/api/jobs/job-failed/retry")
    assert reply.status == 403 and "takes no actions" in reply.error


async def test_a_monitor_without_a_database_cannot_act() -> None:
    reply = await post(MonitorApp(MonitorHub(), write_token=TOKEN), "/api/jobs/j/retry")
    assert reply.status == 503 and "--db PATH" in reply.error


async def test_other_posts(app: MonitorApp) -> None:
    assert (await post(app, "/health")).status == 405
    nothing = await post(app, "/api/jobs/j/explode")
    assert (nothing.status, nothing.error) == (404, "no action POST /api/jobs/j/explode")
    huge = await post(app, "/api/jobs/retry", body=b"{" + b" " * (1 << 20) + b"}")
    assert huge.status == 413


# -- jobs -------------------------------------------------------------------------------------


async def test_retry_cancel_requeue(app: MonitorApp, browse: Browse) -> None:
    retried = await post(app, "/api/jobs/job-failed/retry")
    assert retried.status == 200
    assert retried.json()["ok"] is True
    assert (retried.json()["job"]["status"], retried.json()["job"]["attempts"]) == ("pending", 0)
    cancelled = (await post(app, "/api/jobs/job-pending/cancel")).json()["job"]
    assert (cancelled["status"], cancelled["error_message"]) == ("failed", "cancelled by operator")
    requeued = (await post(app, "/api/jobs/job-held/requeue")).json()["job"]
    assert (requeued["status"], requeued["claimed_by"]) == ("pending", None)
    assert await audit_log(browse) == [
        ("ui:127.0.0.1", "requeue", "job-held", "ok"),
        ("ui:127.0.0.1", "cancel", "job-pending", "ok"),
        ("ui:127.0.0.1", "retry", "job-failed", "ok"),
    ]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/jobs/job-done/retry", 409, "job job-done is completed, not failed"),
        ("/api/jobs/job-held/retry", 409, "job job-held is processing, not failed"),
        ("/api/jobs/job-failed/cancel", 409, "job job-failed is failed, not pending"),
        ("/api/jobs/job-pending/requeue", 409, "job job-pending is pending, not processing"),
        ("/api/jobs/ghost/retry", 404, "unknown job 'ghost'"),
    ],
)
async def test_job_refusals_are_audited(
    app: MonitorApp, browse: Browse, path: str, status: int, message: str
) -> None:
    reply = await post(app, path)
    assert (reply.status, reply.error) == (status, message)
    [(actor, _action, _target, result)] = await audit_log(browse)
    assert actor == "ui:127.0.0.1" and result != "ok"


async def test_bulk_retry(app: MonitorApp, browse: Browse) -> None:
    reply = (await post(app, "/api/jobs/retry", body={"type": "worker"})).json()
    assert reply == {"ok": True, "retried": 1, "job_ids": ["job-failed"]}
    again = (await post(app, "/api/jobs/retry", body={})).json()
    assert again["retried"] == 0
    assert [row[1:] for row in await audit_log(browse)] == [
        ("bulk-retry", None, "ok"),
        ("bulk-retry", None, "ok"),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "bad payload: the body is not standard JSON"),
        (b'{"type": NaN}', "bad payload: the body is not standard JSON (NaN is not a JSON value"),
        (b"[1, 2]", "bad payload: the body must be a JSON object, not an array"),
        ({"kind": "a"}, "bad payload: unknown key 'kind' (this action takes type, machine, q)"),
        ({"type": 3}, "bad filter: 'type' must be a string"),
    ],
)
async def test_bulk_retry_refuses_a_bad_filter(
    app: MonitorApp, browse: Browse, body: Any, message: str
) -> None:
    reply = await post(app, "/api/jobs/retry", body=body)
    assert reply.status == 400
    assert reply.error.startswith(message)
    assert (await browse.job("job-failed") or {})["status"] == "failed"
    assert [row[1] for row in await audit_log(browse)] == ["bulk-retry"]


# -- machines -----------------------------------------------------------------------------------


async def test_send_an_event(
    app: MonitorApp, browse: Browse, deliveries: Deliveries, database: str
) -> None:
    reply = await post(app, "/api/machines/busy/events", body={"type": "go", "payload": {"n": 1}})
    assert reply.status == 200
    assert reply.json() == {
        "ok": True, "delivered": True, "status": "delivered",
        "note": "acknowledged by /tmp/busy.sock",
    }  # fmt: skip
    assert deliveries.sent == [("busy", "go", {"n": 1}, None)]
    [(actor, action, target, result)] = await audit_log(browse)
    assert (actor, action, target, result) == ("ui:127.0.0.1", "send-event", "busy", "ok")
    detail = (await browse.audit_entries())["entries"][0]["detail"]
    assert (detail["type"], detail["payload"], detail["status"]) == ("go", {"n": 1}, "delivered")
    # recorded as statemachine-db send-event records it
    events = recorded_events(database)
    assert [(e["target_machine"], e["event_type"], e["status"]) for e in events] == [
        ("busy", "go", "delivered")
    ]


async def test_an_undelivered_event_says_so(
    app: MonitorApp, browse: Browse, deliveries: Deliveries, database: str
) -> None:
    deliveries.delivered = False
    reply = (await post(app, "/api/machines/busy/events", body={"type": "go"})).json()
    assert (reply["delivered"], reply["status"]) == (False, "undelivered")
    assert (await audit_log(browse))[0][3] == "undelivered: no control socket for busy"
    assert [e["status"] for e in recorded_events(database)] == ["undelivered"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "bad event: 'type' must be a non-empty string"),
        ({"type": ""}, 400, "bad event: 'type' must be a non-empty string"),
        ({"type": "go", "payload": [1]}, 400, "bad payload: 'payload' must be a JSON object"),
        ({"type": "go", "payload": "x"}, 400, "bad payload: 'payload' must be a JSON object"),
        (b'{"type": "go", "payload": {"x": Infinity}}', 400, "bad payload: the body is not"),
        (b'"go"', 400, "bad payload: the body must be a JSON object, not a string"),
        ({"type": "go", "extra": 1}, 400, "bad payload: unknown key 'extra'"),
    ],
)
async def test_send_event_refusals(
    app: MonitorApp,
    browse: Browse,
    deliveries: Deliveries,
    body: Any,
    status: int,
    message: str,
) -> None:
    reply = await post(app, "/api/machines/busy/events", body=body)
    assert reply.status == status
    assert reply.error.startswith(message)
    assert deliveries.sent == []
    assert [(row[1], row[3]) for row in await audit_log(browse)] == [("send-event", reply.error)]


async def test_an_unknown_machine_is_404_and_audited(
    app: MonitorApp, browse: Browse, deliveries: Deliveries
) -> None:
    for action, body in (("events", {"type": "go"}), ("stop", b"")):
        reply = await post(app, f"/api/machines/ghost/{action}", body=body)
        assert reply.status == 404
        assert reply.error == "unknown machine 'ghost': the database has no record of it"
    assert deliveries.sent == []
    assert [row[1:] for row in await audit_log(browse)] == [
        ("stop", "ghost", "unknown machine 'ghost': the database has no record of it"),
        ("send-event", "ghost", "unknown machine 'ghost': the database has no record of it"),
    ]


async def test_stop(app: MonitorApp, browse: Browse, deliveries: Deliveries) -> None:
    reply = await post(app, "/api/machines/busy/stop")
    assert reply.json()["ok"] is True
    assert deliveries.sent == [("busy", "stop", {}, None)]
    ended = await post(app, "/api/machines/done/stop")
    assert (ended.status, ended.error) == (409, "machine 'done' is finished, not running")
    assert [row[1:] for row in await audit_log(browse)] == [
        ("stop", "done", "machine 'done' is finished, not running"),
        ("stop", "busy", "ok"),
    ]
