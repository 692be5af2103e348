"""Opening a PostgreSQL store that cannot work: one line saying which of the usual causes
it is (the command-line tools print it and exit 1)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import psycopg
import pytest
from pg_cluster import Cluster, free_port

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import open_store
from statemachine_engine.persistence._pg_connect import why_not_connected


async def _open_fails(url: str) -> str:
    with pytest.raises(StoreError) as raised:
        async with open_store(url):
            pass
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://me@localhost:notaport/db", "the port 'notaport' is not a number"),
        ("postgresql://me@h/db?nosuchoption=1", 'invalid URI query parameter: "nosuchoption"'),
    ],
)
async def test_a_wrong_url_is_named_invalid(url: str, why: str) -> None:
    assert await _open_fails(url) == f"invalid PostgreSQL URL: {why}"


async def test_a_refused_connection_says_so_without_the_password() -> None:
    message = await _open_fails(f"postgresql://me:secret@127.0.0.1:{free_port()}/db")
    assert "connection refused" in message
    assert "secret" not in message
    assert message.startswith("postgresql://me@127.0.0.1:")


async def test_a_missing_database_says_so(pg_cluster: Cluster) -> None:
    message = await _open_fails(pg_cluster.url("no_such_db"))
    assert message.endswith(
        "/no_such_db: the database does not exist (create it: createdb, or CREATE DATABASE)"
    )


async def test_a_missing_user_says_so(pg_url: str) -> None:
    message = await _open_fails(pg_url.replace("postgres@", "nobody@"))
    assert "the user does not exist on the server" in message


@pytest.fixture
def reader_url(pg_cluster: Cluster, pg_url: str) -> Iterator[str]:
    """A role that may connect but not create tables (PostgreSQL 15: not in ``public``)."""
    pg_cluster.admin_sql("CREATE ROLE sm_reader LOGIN")
    try:
        yield pg_url.replace("postgres@", "sm_reader@")
    finally:
        pg_cluster.admin_sql("DROP OWNED BY sm_reader CASCADE; DROP ROLE sm_reader")


async def test_a_user_without_the_right_to_create_tables_is_told_so(reader_url: str) -> None:
    message = await _open_fails(reader_url)
    assert "this user may not create the tables" in message
    assert "grant it CREATE on the schema" in message


def test_a_bad_password_is_named_as_such() -> None:
    # the test server trusts every local user: the server's words are checked directly
    error = psycopg.OperationalError(
        'connection failed: FATAL:  password authentication failed for user "me"'
    )
    assert why_not_connected(error, "postgresql://me@db:5432/x") == (
        "postgresql://me@db:5432/x: authentication failed (wrong user or password)"
    )


async def test_without_psycopg_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    message = await _open_fails("postgresql://me@127.0.0.1:5432/db")
    assert "pip install 'statemachine-engine[postgresql]'" in message


async def test_a_server_older_than_13_is_refused(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(psycopg.ConnectionInfo, "server_version", property(lambda self: 120011))
    message = await _open_fails(pg_url)
    assert message.endswith(": PostgreSQL 12 is not supported (13 or newer is needed)")
