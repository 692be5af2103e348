"""The schema on PostgreSQL: every table and index the monitor reads, and the indexes a
database of the current version lacks created when it is opened; the store's class."""

from __future__ import annotations

from pathlib import Path

from statemachine_engine.persistence import (
    PostgresStore,
    SqliteStore,
    Store,
    connect_postgres,
    open_store,
)


def _indexes(url: str) -> dict[str, str]:
    conn = connect_postgres(url)
    try:
        rows = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall()
        return {row["indexname"]: row["indexdef"] for row in rows}
    finally:
        conn.close()


def test_the_monitor_tables_and_the_timeline_page_indexes_exist(pg_url: str) -> None:
    conn = connect_postgres(pg_url)
    try:
        tables = {
            row["tablename"]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
    finally:
        conn.close()
    assert {"machine_runs", "activity_log", "audit_log"} <= tables
    found = _indexes(pg_url)
    # keyset pages by (timestamp, id) per machine: SQLite's rowid made ``id`` implicit
    assert '(machine_name, "timestamp", id)' in found["idx_state_transitions_machine_page"]
    assert '(machine_name, "timestamp", id)' in found["idx_errors_machine_page"]
    assert '(machine_name, "timestamp", id)' in found["idx_activity_log_machine"]
    assert "idx_state_transitions_machine" not in found
    assert "idx_errors_machine" not in found


def test_a_database_of_this_version_gets_the_indexes_it_lacks(pg_url: str) -> None:
    conn = connect_postgres(pg_url)
    try:
        # as a database created before the page indexes: SQLite's two instead
        conn.execute("DROP INDEX idx_state_transitions_machine_page")
        conn.execute("DROP INDEX idx_errors_machine_page")
        conn.execute("CREATE INDEX idx_errors_machine ON errors(machine_name, timestamp)")
    finally:
        conn.close()
    found = _indexes(pg_url)  # opening migrates
    assert {"idx_state_transitions_machine_page", "idx_errors_machine_page"} <= set(found)
    assert "idx_errors_machine" not in found


async def test_the_postgresql_store_is_not_a_sqlite_store(pg_url: str, tmp_path: Path) -> None:
    async with open_store(pg_url) as pg, open_store(tmp_path / "db") as sqlite:
        assert isinstance(pg, PostgresStore) and not isinstance(pg, SqliteStore)
        assert isinstance(sqlite, SqliteStore) and not isinstance(sqlite, PostgresStore)
        shared = set(type(pg).__mro__) & set(type(sqlite).__mro__) - {object}
        assert "SqlStore" in {cls.__name__ for cls in shared}
        assert isinstance(pg, Store) and isinstance(sqlite, Store)
