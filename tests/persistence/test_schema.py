"""Opening a database: file and folder creation, pragmas, versions, migrations, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import SCHEMA_VERSION, connect, jobs_sql
from statemachine_engine.persistence._schema import schema_version

TABLES = {"jobs", "machine_events", "machine_state", "state_transitions", "errors"}


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {row["name"] for row in rows}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row["name"] for row in conn.execute(f"PRAGMA table_info({table})")]


def test_first_use_creates_folder_file_and_schema(db_path: Path) -> None:
    assert not db_path.parent.exists()
    conn = connect(db_path)
    try:
        assert db_path.is_file()
        assert TABLES | {"schema_version"} <= _tables(conn)
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()["journal_mode"] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()["foreign_keys"] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()["timeout"] == 10_000
    finally:
        conn.close()


def test_published_column_names_are_kept(db_path: Path) -> None:
    conn = connect(db_path)
    try:
        jobs = _columns(conn, "jobs")
        for name in ("id", "job_id", "job_type", "machine_type", "source_job_id", "data",
                     "result", "priority", "status", "created_at", "started_at",
                     "completed_at", "error_message", "metadata", "attempts", "max_attempts",
                     "run_at", "claimed_by", "lease_until", "updated_at"):  # fmt: skip
            assert name in jobs
        assert _columns(conn, "machine_state")[:6] == [
            "machine_name",
            "current_state",
            "last_activity",
            "pid",
            "metadata",
            "config_type",
        ]
        assert {"endpoint", "context"} <= set(_columns(conn, "machine_state"))
        assert _columns(conn, "machine_events") == [
            "id",
            "source_machine",
            "target_machine",
            "event_type",
            "job_id",
            "payload",
            "status",
            "created_at",
            "processed_at",
        ]
        assert _columns(conn, "state_transitions") == [
            "id",
            "machine_name",
            "from_state",
            "to_state",
            "event",
            "timestamp",
        ]
        assert _columns(conn, "errors") == [
            "id",
            "machine_name",
            "state",
            "action",
            "message",
            "traceback",
            "job_id",
            "timestamp",
        ]
    finally:
        conn.close()


def test_reopening_keeps_data(db_path: Path) -> None:
    conn = connect(db_path)
    jobs_sql.add_job(conn, jobs_sql.NewJob("a", "t"), now=1.0)
    conn.close()
    conn = connect(db_path)
    try:
        assert jobs_sql.get_job(conn, "a") is not None
    finally:
        conn.close()


def test_a_file_that_is_not_a_database(tmp_dir: Path) -> None:
    path = tmp_dir / "notes.txt"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt is not a SQLite database"):
        connect(path)


def test_another_programs_database_is_refused_and_left_as_it_was(tmp_dir: Path) -> None:
    path = tmp_dir / "theirs.db"
    theirs = sqlite3.connect(path)
    theirs.execute("CREATE TABLE jobs (x INTEGER, y TEXT)")
    theirs.execute("INSERT INTO jobs VALUES (1, 'keep')")
    theirs.commit()
    theirs.close()
    with pytest.raises(StoreError, match=r"theirs\.db is not a statemachine-engine database"):
        connect(path)
    theirs = sqlite3.connect(path)
    try:
        tables = [r[0] for r in theirs.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert tables == ["jobs"]
        assert theirs.execute("SELECT * FROM jobs").fetchall() == [(1, "keep")]
    finally:
        theirs.close()


def test_a_directory_is_not_a_database(tmp_dir: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        connect(tmp_dir)


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(StoreError, match="newer than this program"):
        connect(db_path)


UPSTREAM_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT UNIQUE NOT NULL,
    job_type TEXT NOT NULL,
    machine_type TEXT,
    source_job_id TEXT,
    data TEXT,
    result TEXT,
    priority INTEGER DEFAULT 5,
    status TEXT DEFAULT 'pending',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    error_message TEXT,
    metadata TEXT
);
CREATE INDEX idx_jobs_status ON jobs(status);
CREATE INDEX idx_jobs_priority ON jobs(priority DESC, created_at ASC);
CREATE TABLE machine_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_machine TEXT,
    target_machine TEXT NOT NULL,
    event_type TEXT NOT NULL,
    job_id TEXT,
    payload TEXT,
    status TEXT DEFAULT 'pending',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    processed_at TIMESTAMP
);
CREATE TABLE machine_state (
    machine_name TEXT PRIMARY KEY,
    current_state TEXT,
    last_activity TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    pid INTEGER,
    metadata TEXT,
    config_type TEXT
);
CREATE TABLE realtime_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_name TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    consumed BOOLEAN DEFAULT 0,
    consumed_at TIMESTAMP
);
CREATE TABLE face_results (id INTEGER PRIMARY KEY, path TEXT);
CREATE INDEX idx_face_results_path ON face_results(path);
INSERT INTO jobs (job_id, job_type, machine_type, data, created_at)
    VALUES ('old_1', 'render', 'render', '{"input": "a.png"}', '2024-01-02 03:04:05');
INSERT INTO machine_events (target_machine, event_type, created_at)
    VALUES ('worker', 'go', '2024-01-02 03:04:05');
"""


def test_a_database_of_the_published_package_is_adopted(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.executescript(UPSTREAM_SCHEMA)
    raw.close()

    conn = connect(db_path)
    try:
        assert schema_version(conn) == SCHEMA_VERSION
        assert {"attempts", "run_at", "lease_until"} <= set(_columns(conn, "jobs"))
        assert {"endpoint", "context"} <= set(_columns(conn, "machine_state"))
        job = jobs_sql.get_job(conn, "old_1")
        assert job is not None
        # text timestamps (UTC) became epoch seconds; run_at starts at created_at
        assert job["created_at"] == 1704164645.0
        assert job["run_at"] == job["created_at"]
        assert job["data"] == {"input": "a.png"}
        event = conn.execute("SELECT created_at FROM machine_events").fetchone()
        assert event["created_at"] == 1704164645.0
        # the old job can be claimed like any other
        claimed = jobs_sql.claim_next(
            conn, job_type="render", machine_type=None, worker="w", now=1_800_000_000.0
        )
        assert claimed is not None and claimed["job_id"] == "old_1"
        indexes = {
            row["name"]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        # the published package's job indexes are replaced; other tables are not touched
        assert "idx_jobs_status" not in indexes
        assert "idx_jobs_priority" not in indexes
        assert {"idx_jobs_pending", "idx_face_results_path"} <= indexes
    finally:
        conn.close()


def test_concurrent_first_opens_migrate_once(db_path: Path) -> None:
    first = connect(db_path)
    second = connect(db_path)
    try:
        count = second.execute("SELECT count(*) AS n FROM schema_version").fetchone()["n"]
        assert count == 1
    finally:
        first.close()
        second.close()


def test_memory_database_has_the_schema() -> None:
    conn = connect(":memory:")
    try:
        assert _tables(conn) >= TABLES
    finally:
        conn.close()
