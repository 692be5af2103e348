"""examples/embedded: the README's embedded example runs as printed, from its folder, and
records into ``$STATEMACHINE_DB`` when that is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from example_support import EXAMPLES

from statemachine_engine.persistence import connect, records_sql

FOLDER = EXAMPLES / "embedded"


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "embedded.py"],
        cwd=FOLDER,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_prints_the_statistics_of_the_completed_machine() -> None:
    result = run({})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ActorStatistics(name='worker', state='completed'")
    assert "transitions=2" in result.stdout and "errors=0" in result.stdout
    assert not (FOLDER / "data").exists()  # no database unless one is named


def test_with_statemachine_db_it_records_the_history(tmp_path: Path) -> None:
    db = tmp_path / "example.db"
    result = run({"STATEMACHINE_DB": str(db)})
    assert result.returncode == 0, result.stderr
    conn = connect(db)
    try:
        rows = records_sql.list_transitions(conn, machine="worker", limit=None)
    finally:
        conn.close()
    assert sorted(r["event"] for r in rows) == ["job_done", "new_job"]
