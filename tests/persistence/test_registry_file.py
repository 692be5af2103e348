"""read_registry: the registry rows of a database file, read without changing the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import connect, read_registry, records_sql


def test_it_reads_the_rows_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    conn = connect(path)
    records_sql.upsert_machine(
        conn,
        "worker",
        current_state="waiting",
        config_type="worker",
        pid=42,
        endpoint=None,
        timestamp=1.0,
        context='{"a": 1}',
    )
    conn.close()
    before = os.stat(path).st_mtime_ns
    [row] = read_registry(path)
    assert (row["machine_name"], row["current_state"], row["context"]) == (
        "worker",
        "waiting",
        {"a": 1},
    )
    assert os.stat(path).st_mtime_ns == before


def test_a_missing_file_is_a_store_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(StoreError, match=r"none\.db"):
        read_registry(missing)
    assert not missing.exists()
