"""``statemachine-db`` on durable machines: machine-state lists those not running; inbox and
outbox listings (pending, delivered, duplicates dropped)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.cli._db import main
from statemachine_engine.persistence import connect, durable_sql, transaction


@pytest.fixture
def db() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        path = folder / "d.db"
        conn = connect(path)
        now = time.time()
        with transaction(conn):
            row = ["flow", "run1", "flow", "/x/flow.yaml", "waiting", "idle", "go", "entry",
                   1, 1, json.dumps({"order": 7}), now - 5, now + 5, 3, None, None, None,
                   "running", 999_999_999, now]  # fmt: skip
            durable_sql.start_checkpoint(conn, row)
            for n, message_id in enumerate(("m1", "m2", "m2")):
                durable_sql.receive(
                    conn, target="flow", message_id=message_id, source="other",
                    event_type=f"e{n}", message=json.dumps({"type": f"e{n}"}), now=now,
                )  # fmt: skip
            durable_sql.mark_inbox(conn, [("handled", now, 3, "flow", "m1")])
            for message_id in ("o1", "o2"):
                durable_sql.post(
                    conn, message_id=message_id, source="flow", target="other",
                    event_type="ping", message=json.dumps({"type": "ping"}), now=now,
                )  # fmt: skip
            durable_sql.mark_delivered(conn, [(now, 2, "o1")])
        conn.close()
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(db: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["--db", str(db), *args]) == 0
    return capsys.readouterr().out


def test_machine_state_lists_durable_machines_not_running(db, capsys) -> None:
    out = run(db, capsys, "machine-state")
    assert "No machine is running" in out
    assert "Durable machines not running" in out
    line = next(line for line in out.splitlines() if line.startswith("flow"))
    assert line.split()[:4] == ["flow", "waiting", "interrupted", "3"]
    assert "entry action 1, attempt 1" in line
    data = json.loads(run(db, capsys, "machine-state", "--machine", "flow", "--format", "json"))
    assert data[0]["durable"] is True and data[0]["context"] == {"order": 7}


def test_inbox_and_outbox_listings(db, capsys) -> None:
    inbox = json.loads(run(db, capsys, "inbox", "--format", "json"))
    assert [(m["message_id"], m["status"], m["duplicates"]) for m in inbox] == [
        ("m2", "pending", 1),
        ("m1", "handled", 0),
    ]
    dups = run(db, capsys, "inbox", "--status", "duplicates")
    assert "m2" in dups and "m1" not in dups
    pending = json.loads(run(db, capsys, "outbox", "--status", "pending", "--format", "json"))
    assert [m["message_id"] for m in pending] == ["o2"]
    assert pending[0]["message"] == {"type": "ping"}
    table = run(db, capsys, "outbox", "--machine", "flow")
    assert "delivered" in table and "o1" in table
    assert "No outbox messages found" in run(db, capsys, "outbox", "--machine", "nobody")
