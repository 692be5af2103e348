"""A --db value may be a postgresql:// URL: passed through, and never printed with its password."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import (
    DB_ENV_VAR,
    is_db_url,
    open_store,
    read_registry,
    redact_db,
    resolve_db_path,
)
from statemachine_engine.persistence._files import prepare_file


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("postgresql://app@db.example:5432/jobs", True),
        ("postgres://app@db.example/jobs", True),
        ("data/pipeline.db", False),
        (":memory:", False),
        ("/srv/postgresql/jobs.db", False),
    ],
)
def test_a_url_is_told_from_a_file(value: str, url: bool) -> None:
    assert is_db_url(value) is url


def test_a_url_is_passed_through_from_the_flag_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql://app@db.example:5432/jobs"
    assert resolve_db_path(url) == url
    monkeypatch.setenv(DB_ENV_VAR, url)
    assert resolve_db_path(None) == url


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/jobs", "postgresql://app:***@db:5432/jobs"),
        ("postgresql://app:p@ss@db/jobs", "postgresql://app:***@db/jobs"),
        ("postgres://:s3cret@db/jobs", "postgres://:***@db/jobs"),
        (
            "postgresql://app@db/jobs?sslmode=require&password=s3cret",
            "postgresql://app@db/jobs?sslmode=require&password=***",
        ),
        ("postgresql://app@db/jobs", "postgresql://app@db/jobs"),
        ("data/user:secret@host.db", "data/user:secret@host.db"),  # a file is a file
    ],
)
def test_a_password_is_never_shown(value: str, shown: str) -> None:
    assert redact_db(value) == shown


def test_a_url_is_never_made_into_folders_by_the_file_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="cannot be opened as a SQLite database file") as raised:
        prepare_file("postgresql://app:s3cret@db:5432/jobs")
    assert "s3cret" not in str(raised.value)
    assert list(tmp_path.iterdir()) == []


async def test_the_registry_of_a_postgresql_database_is_read(pg_url: str) -> None:
    async with open_store(pg_url, host="here") as store:
        store.machine_started(
            "worker", current_state="waiting", config_type="w", pid=7, endpoint=None, timestamp=1.0
        )
        await store.flush()
    [row] = read_registry(pg_url)
    assert (row["machine_name"], row["current_state"], row["pid"]) == ("worker", "waiting", 7)


def test_reading_the_registry_of_an_empty_postgresql_database_creates_nothing(
    pg_url: str,
) -> None:
    with pytest.raises(StoreError) as raised:
        read_registry(pg_url.replace("postgresql://postgres@", "postgresql://postgres:pw@"))
    assert "machine_state" in str(raised.value) and ":pw@" not in str(raised.value)
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)
