"""``statemachine-db``: every subcommand, both output formats, exit codes and bad input."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from statemachine_engine.cli._db import main
from statemachine_engine.cli._db_common import parse_when
from statemachine_engine.persistence import SCHEMA_VERSION, connect, jobs_sql, records_sql

EPOCH = 1_700_000_000.0


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A database path in a fresh directory; $STATEMACHINE_DB points elsewhere to prove
    --db wins."""
    folder = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    monkeypatch.setenv("STATEMACHINE_DB", str(folder / "not-this-one.db"))
    try:
        yield folder / "data" / "pipeline.db"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(db: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> Result:
        code = main(["--db", str(db), *args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def _jobs(db: Path) -> dict[str, dict[str, Any]]:
    conn = connect(db)
    try:
        return {row["job_id"]: row for row in jobs_sql.list_jobs(conn, limit=None)}
    finally:
        conn.close()


def _seed_history(db: Path) -> None:
    conn = connect(db)
    now = time.time()
    try:
        records_sql.upsert_machine(
            conn,
            "worker_1",
            current_state="working",
            config_type="worker",
            pid=os.getpid(),
            endpoint="/tmp/statemachine-control-worker_1.sock",
            timestamp=now - 5,
        )
        records_sql.upsert_machine(
            conn,
            "ghost",
            current_state="idle",
            config_type="worker",
            pid=2**22 + 12345,  # above pid_max: no such process
            endpoint=None,
            timestamp=now - 50,
        )
        records_sql.insert_transitions(
            conn,
            [
                ("worker_1", "waiting", "working", "new_job", now - 5),
                ("worker_1", "idle", "waiting", "start", now - 7200),
                ("controller", "a", "b", "go", now - 60),
            ],
        )
        records_sql.insert_error(
            conn,
            "worker_1",
            state="working",
            action="bash",
            message="Command failed (exit 3): " + "x" * 100,
            traceback=None,
            job_id="j1",
            timestamp=now - 30,
        )
    finally:
        conn.close()


# -- jobs -----------------------------------------------------------------------------


def test_no_command_prints_help(cli: Any) -> None:
    result = cli()
    assert result.code == 0
    assert "add-job" in result.out and "transition-history" in result.out


def test_add_job_then_list_and_details(cli: Any, db: Path) -> None:
    result = cli("add-job", "job_1", "--type", "render", "--payload", '{"input": "a.png"}')
    assert result.code == 0, result.err
    assert "Job created: job_1" in result.out
    assert db.is_file()  # created on first use, folder included
    cli("add-job", "job_2", "--type", "render", "--machine-type", "gpu", "--priority", "1")
    job = _jobs(db)["job_1"]
    assert (job["machine_type"], job["data"], job["priority"]) == ("render", {"input": "a.png"}, 5)
    assert _jobs(db)["job_2"]["machine_type"] == "gpu"

    table = cli("list")
    assert table.code == 0
    lines = table.out.splitlines()
    assert lines[0].split()[:4] == ["Job", "ID", "Type", "Machine"]
    assert [line.split()[0] for line in lines[2:]] == ["job_2", "job_1"]
    assert (
        cli("list", "--status", "completed").out.strip() == "No jobs with status 'completed' found"
    )

    listed = cli("list", "--format", "json").json()
    assert [row["job_id"] for row in listed] == ["job_2", "job_1"]
    created = listed[0]["created_at"]
    assert created.endswith("+00:00") and "T" in created
    assert isinstance(listed[0]["created_at_epoch"], float)

    details = cli("details", "job_1")
    assert details.code == 0
    assert "Job Details: job_1" in details.out
    assert "Attempts:" in details.out and "0 of 3" in details.out
    assert cli("details", "job_1", "--format", "json").json()["data"] == {"input": "a.png"}


def test_add_job_scheduling_options(cli: Any, db: Path) -> None:
    before = time.time()
    assert (
        cli("add-job", "later", "--type", "t", "--run-at", "+2h", "--max-attempts", "5").code == 0
    )
    job = _jobs(db)["later"]
    assert before + 7200 <= job["run_at"] <= time.time() + 7200
    assert job["max_attempts"] == 5
    cli("add-job", "at_epoch", "--type", "t", "--run-at", str(EPOCH))
    assert _jobs(db)["at_epoch"]["run_at"] == EPOCH
    cli("add-job", "at_iso", "--type", "t", "--run-at", "2023-11-14T22:13:20Z")
    assert _jobs(db)["at_iso"]["run_at"] == EPOCH


def test_parse_when() -> None:
    assert parse_when("+30", now=100.0) == 130.0
    assert parse_when("+5m", now=100.0) == 400.0
    assert parse_when("+1d", now=0.0) == 86400.0
    assert parse_when("2023-11-14T22:13:20+00:00", now=0.0) == EPOCH


def test_add_job_input_file(cli: Any, db: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    source.write_bytes(b"png")
    assert cli("add-job", "j", "--type", "t", "--input-file", str(source)).code == 0
    assert _jobs(db)["j"]["data"] == {"input_file_path": str(source.resolve())}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--payload", "{not json"], "--payload is not valid JSON"),
        (["--payload", "[1, 2]"], "--payload must be a JSON object"),
        (["--input-file", "/no/such/file.png"], "--input-file: no such file"),
        (["--run-at", "next tuesday"], "--run-at: cannot read"),
        (["--max-attempts", "0"], "--max-attempts: expected a whole number from 1 to"),
        # numbers no store column holds, or no date: a clear line, not a traceback
        (["--max-attempts", "1" + "0" * 30], "--max-attempts: expected a whole number from 1"),
        (["--priority", "1" + "0" * 30], "--priority: expected a whole number from -2147483648"),
        (["--run-at", "1" + "0" * 30], "--run-at: '1000"),
        (["--run-at", "+1e400s"], "is not a time from 1970 to 9999"),
        (["--run-at", "nan"], "--run-at: 'nan' is not a time"),
    ],
)
def test_bad_add_job_input_writes_nothing(
    cli: Any, db: Path, args: list[str], message: str
) -> None:
    result = cli("add-job", "bad", "--type", "t", *args)
    # a flag argparse refuses is a usage mistake (2), as in every command; the rest is 1
    assert result.code == (2 if args[0] in ("--max-attempts", "--priority") else 1)
    assert result.out == ""
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
    assert "bad" not in _jobs(db)


def test_duplicate_job_id(cli: Any, db: Path) -> None:
    cli("add-job", "j", "--type", "t", "--payload", '{"v": 1}')
    result = cli("add-job", "j", "--type", "t", "--payload", '{"v": 2}')
    assert result.code == 1
    assert result.err.strip() == "statemachine-db add-job: error: a job with id 'j' already exists"
    assert _jobs(db)["j"]["data"] == {"v": 1}


def test_missing_required_flag_is_exit_2_with_one_line(cli: Any) -> None:
    result = cli("add-job", "j")
    assert result.code == 2
    assert "--type" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_complete_fail_remove(cli: Any, db: Path) -> None:
    for name in ("a", "b", "c", "d"):
        cli("add-job", name, "--type", "t")
    assert cli("complete-job", "a", "--result", '{"ok": true}').code == 0
    assert _jobs(db)["a"]["status"] == "completed"
    assert _jobs(db)["a"]["result"] == {"ok": True}
    failed = cli("fail-job", "b", "--reason", "broken input")
    assert failed.code == 0 and "Job failed: b" in failed.out
    assert (_jobs(db)["b"]["status"], _jobs(db)["b"]["error_message"]) == (
        "failed",
        "broken input",
    )
    retried = cli("fail-job", "d", "--reason", "flaky", "--retry")
    assert retried.code == 1
    assert retried.err.strip() == (
        "statemachine-db fail-job: error: job d is pending: no attempt is running to fail and "
        "retry (without --retry it is failed for good)"
    )
    assert _jobs(db)["d"]["status"] == "pending"
    removed = cli("remove-job", "c", "--reason", "duplicate")
    assert removed.code == 0 and "Removed job c" in removed.out and "duplicate" in removed.out
    assert "c" not in _jobs(db)
    for command in (["complete-job", "zzz"], ["fail-job", "zzz", "--reason", "r"],
                    ["remove-job", "zzz"], ["details", "zzz"]):  # fmt: skip
        result = cli(*command)
        assert result.code == 1, command
        assert "'zzz' not found" in result.err


def test_status_counts(cli: Any) -> None:
    for name in ("a", "b", "c"):
        cli("add-job", name, "--type", "t")
    cli("complete-job", "a")
    out = cli("status").out
    assert "Database Status" in out
    assert "Total:" in out and "Pending:" in out
    data = cli("status", "--format", "json").json()
    assert data["jobs"] == {"pending": 2, "processing": 0, "completed": 1, "failed": 0, "total": 3}
    assert data["schema_version"] == SCHEMA_VERSION


def test_cleanup_and_reset_processing(cli: Any, db: Path) -> None:
    for name in ("a", "b", "c"):
        cli("add-job", name, "--type", "t")
    cli("complete-job", "a")
    conn = connect(db)
    jobs_sql.claim_job(conn, "b", worker="w", now=time.time() - 3600)
    jobs_sql.claim_job(conn, "c", worker="w", now=time.time())
    conn.close()
    refused = cli("cleanup", "--status", "processing")
    assert refused.code == 1 and "reset-processing" in refused.err
    assert cli("cleanup", "--status", "completed").out.strip() == "Deleted 1 completed job(s)"
    reset = cli("reset-processing")
    assert reset.code == 0 and "b" in reset.out.split()
    assert _jobs(db)["c"]["status"] == "processing"  # started a moment ago
    assert "c" in cli("reset-processing", "--force").out.split()
    assert {job["status"] for job in _jobs(db).values()} == {"pending"}


def test_recreate_database(cli: Any, db: Path) -> None:
    cli("add-job", "a", "--type", "t")
    refused = cli("recreate-database")  # stdin is not a terminal: no prompt
    assert refused.code == 1 and "--force" in refused.err
    assert "a" in _jobs(db)
    assert cli("recreate-database", "--force").code == 0
    assert _jobs(db) == {}


# -- events ---------------------------------------------------------------------------


def test_send_event_to_no_running_machine_records_it_and_exits_3(cli: Any, db: Path) -> None:
    result = cli("send-event", "--target", "worker_1", "--type", "go", "--payload", '{"n": 1}',
                 "--job-id", "j1", "--control-socket-prefix", str(db.parent / "ctl"))  # fmt: skip
    assert result.code == 3
    assert "Event recorded" in result.out
    assert "not delivered" in result.err and "worker_1" in result.err
    [event] = cli("list-events", "--format", "json").json()
    # it says it was not delivered, and still waits for process-events
    assert (event["target_machine"], event["event_type"], event["status"]) == (
        "worker_1",
        "go",
        "undelivered",
    )
    assert (event["payload"], event["job_id"], event["source_machine"]) == ({"n": 1}, "j1", "cli")
    assert [e["event_type"] for e in cli("process-events", "worker_1", "--format", "json").json()]
    assert cli("process-events", "worker_1", "--format", "json").json()[0]["id"] == event["id"]
    as_json = cli("send-event", "--target", "w", "--type", "t", "--format", "json").json()
    assert as_json["delivered"] is False and as_json["id"] == 2 and as_json["note"]


def test_send_event_with_bad_payload_writes_nothing(cli: Any, db: Path) -> None:
    connect(db).close()
    result = cli("send-event", "--target", "w", "--type", "go", "--payload", "{oops")
    assert result.code == 1 and "not valid JSON" in result.err
    assert cli("list-events", "--format", "json").json() == []


def test_list_and_process_and_clean_events(cli: Any) -> None:
    cli("send-event", "--target", "a", "--type", "one")
    cli("send-event", "--target", "a", "--type", "two", "--payload", '"' + "long " * 30 + '"')
    cli("send-event", "--target", "b", "--type", "three")
    table = cli("list-events", "--target", "a").out.splitlines()
    assert table[0].split() == ["ID", "Source", "Target", "Type", "Job", "ID", "Status",
                                "Created", "Payload"]  # fmt: skip
    assert len(table) == 4 and table[2].rstrip().endswith("...")
    shown = cli("process-events", "a")
    assert "Pending events for a" in shown.out
    assert [e["event_type"] for e in cli("process-events", "a", "--format", "json").json()] == [
        "one",
        "two",
    ]
    marked = cli("process-events", "a", "--mark-processed")
    assert "Marked 2 event(s) processed" in marked.out
    assert cli("process-events", "a").out.strip() == "No pending events for a"
    assert cli("list-events", "--status", "processed", "--format", "json").json()[0][
        "processed_at_epoch"
    ]
    assert (
        cli("cleanup-events", "--status", "processed").out.strip() == "Deleted 2 processed event(s)"
    )
    assert cli("cleanup-events").out.strip() == "Deleted 1 event(s)"


# -- registry and history -------------------------------------------------------------


def test_machine_state(cli: Any, db: Path) -> None:
    connect(db).close()
    assert "No machine state data found" in cli("machine-state").out
    _seed_history(db)
    table = cli("machine-state").out
    assert "worker_1" in table and "working" in table and "NO (stale row)" in table
    rows = cli("machine-state", "--format", "json").json()
    assert [r["machine_name"] for r in rows] == ["ghost", "worker_1"]
    worker = rows[1]
    assert worker["alive"] is True
    assert worker["endpoint"] == "/tmp/statemachine-control-worker_1.sock"
    assert worker["config_type"] == "worker"
    assert isinstance(worker["last_activity_epoch"], float)
    assert (
        cli("machine-status", "--machine", "worker_1", "--format", "json").json()[0]["machine_name"]
        == "worker_1"
    )
    assert cli("machine-state", "--machine", "nobody").code == 1


def test_transition_history_with_real_timestamps_and_filters(cli: Any, db: Path) -> None:
    _seed_history(db)
    every = cli("transition-history", "--format", "json").json()
    assert [(r["machine_name"], r["to_state"]) for r in every] == [
        ("worker_1", "working"),
        ("controller", "b"),
        ("worker_1", "waiting"),
    ]
    assert all(r["timestamp"] and r["timestamp_epoch"] > EPOCH for r in every)
    recent = cli("transition-history", "--hours", "1", "--format", "json").json()
    assert len(recent) == 2  # the two-hour-old one is filtered out
    mine = cli("transition-history", "--machine", "worker_1", "--limit", "1", "--format", "json")
    assert [r["to_state"] for r in mine.json()] == ["working"]
    table = cli("transition-history").out.splitlines()
    assert table[0].split() == ["Time", "Machine", "From", "To", "Event"]
    assert "new_job" in table[2]


def test_error_history_and_list_errors(cli: Any, db: Path) -> None:
    _seed_history(db)
    cli("add-job", "broken", "--type", "t")
    cli("fail-job", "broken", "--reason", "bad input")
    [error] = cli("error-history", "--machine", "worker_1", "--format", "json").json()
    assert (error["action"], error["job_id"]) == ("bash", "j1")
    table = cli("error-history").out
    assert "Command failed (exit 3)" in table and "..." in table
    assert cli("error-history", "--machine", "nobody").out.strip() == "No errors found"
    items = cli("list-errors", "--format", "json").json()
    assert [(i["kind"], i["job_id"]) for i in items] == [("failed_job", "broken"), ("error", "j1")]
    assert "bad input" in cli("list-errors").out


def test_machine_health(cli: Any, db: Path) -> None:
    _seed_history(db)
    cli("add-job", "stuck", "--type", "t")
    conn = connect(db)
    jobs_sql.claim_job(conn, "stuck", worker="ghost", now=time.time() - 600, lease_seconds=60)
    conn.close()
    out = cli("machine-health").out
    assert "ATTENTION" in out and "ghost" in out and "stuck" in out
    report = cli("machine-health", "--format", "json").json()
    assert report["healthy"] is False
    assert report["stale_machines"] == ["ghost"]
    assert [j["job_id"] for j in report["stuck_jobs"]] == ["stuck"]
    assert report["errors_last_hour"] == 1


# -- the database file ----------------------------------------------------------------


def test_not_a_database(cli: Any, db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_text("hello, I am a text file\n" * 50)
    result = cli("status")
    assert result.code == 1
    assert "is not a SQLite database" in result.err
    assert "Traceback" not in result.err


def test_environment_variable_names_the_database(
    db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATEMACHINE_DB", str(db))
    assert main(["add-job", "from_env", "--type", "t"]) == 0
    capsys.readouterr()
    assert "from_env" in _jobs(db)
    # --db after the subcommand works too
    other = db.with_name("other.db")
    connect(other).close()
    assert main(["list", "--db", str(other), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_locked_database_is_waited_for(cli: Any, db: Path) -> None:
    connect(db).close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO jobs (job_id, job_type, run_at) VALUES ('held', 't', 0)")
    released = threading.Event()

    def release_later() -> None:
        time.sleep(0.5)
        holder.execute("COMMIT")
        holder.close()
        released.set()

    thread = threading.Thread(target=release_later)
    started = time.monotonic()
    thread.start()
    try:
        result = cli("add-job", "waited", "--type", "t")
    finally:
        thread.join(timeout=30)
    assert released.is_set()
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 0.45  # it waited for the other writer
    assert {"held", "waited"} <= set(_jobs(db))


# -- as a process ---------------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statemachine_engine.cli._db", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_the_command_does_not_import_trio_or_attrs(db: Path) -> None:
    code = (
        "import sys\n"
        "from statemachine_engine.cli._db import main\n"
        f"assert main(['--db', {str(db)!r}, 'add-job', 'j', '--type', 't']) == 0\n"
        f"assert main(['--db', {str(db)!r}, 'list', '--format', 'json']) == 0\n"
        "print(sorted(m for m in ('trio', 'attrs', 'attr', 'statemachine_engine.actors')"
        " if m in sys.modules), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stderr.strip() == "[]"


def test_exit_codes_as_a_process(db: Path) -> None:
    ok = _run("--db", str(db), "add-job", "j", "--type", "t")
    assert ok.returncode == 0, ok.stderr
    dup = _run("--db", str(db), "add-job", "j", "--type", "t")
    assert dup.returncode == 1
    assert dup.stderr.strip() == "statemachine-db add-job: error: a job with id 'j' already exists"
    missing = _run("--db", str(db), "details", "nope")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_an_unknown_flag_of_a_subcommand_points_at_that_subcommands_help(cli: Any) -> None:
    result = cli("process-events", "ghost", "--nope")
    assert result.code == 2
    assert result.err.strip() == (
        "statemachine-db process-events: error: unrecognized arguments: --nope "
        "(see statemachine-db process-events --help)"
    )
