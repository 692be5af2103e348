"""The throwaway PostgreSQL server of the suite: each test gets its own empty database."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from pg_cluster import Cluster, PostgresUnavailable, find_bindir


def test_a_test_database_takes_a_table(pg_url: str) -> None:
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE jobs (id integer PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO jobs VALUES (1, 'one')")
        assert conn.execute("SELECT name FROM jobs").fetchall() == [("one",)]


def test_a_test_database_starts_empty(pg_url: str) -> None:
    # Whatever order the tests run in, the table of the test above is not here.
    assert _tables(pg_url) == []


def test_two_databases_are_separate_and_dropped_after(pg_cluster: Cluster) -> None:
    first, second = pg_cluster.create_database(), pg_cluster.create_database()
    assert first != second
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE jobs (id integer PRIMARY KEY)")
    assert _tables(first) == ["jobs"]
    assert _tables(second) == []
    for url in (first, second):
        pg_cluster.drop_database(url)
    with psycopg.connect(pg_cluster.url()) as conn:
        names = {url.rsplit("/", 1)[1] for url in (first, second)}
        left = conn.execute(
            "SELECT datname FROM pg_database WHERE datname = ANY(%s)", (sorted(names),)
        ).fetchall()
    assert left == []


def _tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    return [name for (name,) in rows]


def test_the_server_listens_on_loopback_with_durability_off(pg_cluster: Cluster) -> None:
    with psycopg.connect(pg_cluster.url()) as conn:
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["listen_addresses", "fsync", "synchronous_commit", "full_page_writes"],),
            ).fetchall()
        )
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
    }
    assert (pg_cluster.socket_dir / f".s.PGSQL.{pg_cluster.port}").is_socket()


def test_without_postgresql_the_message_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresUnavailable) as raised:
        find_bindir(debian_root=tmp_path)
    assert "initdb not found" in str(raised.value)
    assert "`make test`" in str(raised.value)
    assert "'postgresql' package" in str(raised.value)


def test_the_newest_debian_server_is_chosen(tmp_path: Path) -> None:
    for version in ("9.6", "15", "13"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    assert find_bindir(debian_root=tmp_path) == tmp_path / "15" / "bin"


def test_a_killed_test_session_leaves_no_server_behind(tmp_path: Path) -> None:
    # a session that starts a cluster, says where, and is then killed with SIGKILL
    session = subprocess.Popen(
        [sys.executable, "-c", SESSION, str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert session.stdout is not None
    root, port = session.stdout.readline().split()
    assert Path(root).is_dir()
    session.kill()
    session.wait(timeout=10)
    session.stdout.close()
    deadline = time.monotonic() + 30
    while Path(root).exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # the reaper's pg_ctl stop; bounded by the deadline
    assert not Path(root).exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", connect_timeout=5)


SESSION = """
import sys, time
sys.path.insert(0, sys.argv[1])
from pg_cluster import start_cluster
cluster = start_cluster()
print(cluster.root, cluster.port, flush=True)
time.sleep(600)
"""
