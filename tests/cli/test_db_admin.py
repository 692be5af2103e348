"""``statemachine-db retry|cancel|requeue JOB`` and ``audit``: each action audited as
``cli:<user>``, refusals too, exit 1 with the reason."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from statemachine_engine.cli._db import main
from statemachine_engine.persistence import connect, jobs_sql


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite"
    conn = connect(path)
    for job_id in ("failed", "pending", "held"):
        jobs_sql.add_job(conn, jobs_sql.NewJob(job_id, "t"), now=1.0)
    for job_id in ("failed", "held"):
        assert jobs_sql.claim_job(conn, job_id, worker="w", now=2.0)
    jobs_sql.fail_job(conn, "failed", error="broken", now=3.0, retry=False)
    conn.close()
    return path


def run(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return code, out, err


def status(db: Path, job_id: str) -> str:
    conn = connect(db)
    try:
        job = jobs_sql.get_job(conn, job_id)
        assert job is not None
        return str(job["status"])
    finally:
        conn.close()


def test_retry_cancel_requeue(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, db, "retry", "failed")
    assert code == 0
    assert out.splitlines()[0] == "Job back in the queue: failed"
    assert status(db, "failed") == "pending"
    code, out, _ = run(capsys, db, "cancel", "pending", "--format", "json")
    assert code == 0
    job = json.loads(out)
    assert (job["status"], job["error_message"]) == ("failed", "cancelled by operator")
    assert run(capsys, db, "requeue", "held")[0] == 0
    assert status(db, "held") == "pending"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("retry", "pending"), "job pending is pending, not failed"),
        (("cancel", "held"), "job held is processing, not pending"),
        (("requeue", "failed"), "job failed is failed, not processing"),
        (("retry", "ghost"), "job 'ghost' not found"),
    ],
)
def test_refusals_exit_1_and_are_audited(
    db: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, str], message: str
) -> None:
    code, out, err = run(capsys, db, *args)
    assert (code, out) == (1, "")
    assert err == f"statemachine-db {args[0]}: error: {message}\n"
    code, out, _ = run(capsys, db, "audit", "--format", "json")
    [entry] = json.loads(out)
    assert (entry["actor"], entry["action"], entry["target"], entry["result"]) == (
        f"cli:{getpass.getuser()}", args[0], args[1], message,
    )  # fmt: skip


def test_audit_lists_newest_first(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, db, "audit")[1] == "No operator actions recorded\n"
    run(capsys, db, "retry", "failed")
    run(capsys, db, "cancel", "pending")
    code, out, _ = run(capsys, db, "audit")
    assert code == 0
    header, _rule, first, second = out.splitlines()
    assert header.split() == ["ID", "When", "Who", "Action", "Target", "Result"]
    assert first.split()[3:] == [f"cli:{getpass.getuser()}", "cancel", "pending", "ok"]
    assert second.split()[4:] == ["retry", "failed", "ok"]
    assert len(json.loads(run(capsys, db, "audit", "--limit", "1", "--format", "json")[1])) == 1


def test_a_missing_database_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    code, _, err = run(capsys, missing, "retry", "j")
    assert code == 1 and "no database at" in err
    assert not missing.exists()


def test_forget_machine_frees_a_name_and_is_audited(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from statemachine_engine.persistence import records_sql, transaction

    conn = connect(db)
    with transaction(conn):
        records_sql.upsert_machine(
            conn, "worker", current_state="busy", config_type="w", pid=4242, endpoint=None,
            timestamp=5.0, host="host-b",
        )  # fmt: skip
    conn.close()
    code, out, _ = run(capsys, db, "forget-machine", "worker")
    assert (code, out) == (0, "Machine forgotten: worker (was busy on host host-b)\n")
    conn = connect(db)
    try:
        assert records_sql.get_machine(conn, "worker") is None
    finally:
        conn.close()
    code, _, err = run(capsys, db, "forget-machine", "worker")
    assert code == 1
    assert err == "statemachine-db forget-machine: error: no machine named 'worker' is registered\n"
    entries = json.loads(run(capsys, db, "audit", "--format", "json")[1])
    assert [(e["action"], e["target"], e["result"]) for e in entries] == [
        ("forget-machine", "worker", "no machine named 'worker' is registered"),
        ("forget-machine", "worker", "ok"),
    ]
