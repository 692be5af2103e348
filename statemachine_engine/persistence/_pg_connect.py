"""Connecting to PostgreSQL: the URL, the driver, and one line saying what went wrong.

psycopg is imported here, on first use: a SQLite user never pays for it, and one without
it is told how to install it. A failed connection is a StoreError whose message says which
of the usual causes it is (a wrong URL, a refused connection, a bad password or missing
rights, a missing database, an unsupported server), naming the server without the
password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from statemachine_engine.errors import StoreError
from statemachine_engine.persistence._pg_adapter import one_line

if TYPE_CHECKING:
    import psycopg

#: the oldest server supported (SKIP LOCKED and pg_xact_status are older; 13 is the oldest
#: release still maintained when this was written)
MIN_SERVER_VERSION = 130000
#: seconds a connection attempt may take
CONNECT_TIMEOUT = 5


class CannotConnect(StoreError):
    """The server could not be reached or refused the connection (see the message)."""


def driver() -> Any:
    """The psycopg module, or StoreError saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise StoreError(
            "a postgresql:// database needs the psycopg driver:"
            " pip install 'statemachine-engine[postgresql]'"
        ) from None
    return psycopg


def display_url(url: str) -> str:
    """The URL as it may be logged and shown: ``postgresql://user@host:port/db``, no
    password. Raises StoreError for a URL psycopg cannot read."""
    params = _parse(url)
    user = params.get("user")
    host = params.get("host") or "localhost"
    port = params.get("port")
    where = f"{user}@{host}" if user else host
    if port:
        where += f":{port}"
    return f"postgresql://{where}/{params.get('dbname') or user or ''}"


def _parse(url: str) -> dict[str, Any]:
    psycopg = driver()
    try:
        params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(f"invalid PostgreSQL URL: {one_line(exc)}") from None
    port = str(params.get("port") or "")
    if port and not all(part.isdigit() for part in port.split(",")):
        raise StoreError(f"invalid PostgreSQL URL: the port {port!r} is not a number")
    return params


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection[dict[str, Any]]:
    """A connection with rows as dicts. Raises StoreError saying why it failed."""
    pg = driver()
    from psycopg.rows import dict_row

    shown = display_url(url)
    try:
        conn: psycopg.Connection[dict[str, Any]] = pg.connect(
            url,
            autocommit=autocommit,
            row_factory=dict_row,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="statemachine-engine",
        )
    except pg.Error as exc:
        raise CannotConnect(why_not_connected(exc, shown)) from None
    version = conn.info.server_version
    if version < MIN_SERVER_VERSION:
        conn.close()
        raise StoreError(
            f"{shown}: PostgreSQL {version // 10000} is not supported (13 or newer is needed)"
        )
    return conn


def why_not_connected(exc: Exception, shown: str) -> str:
    """One line for a failed connection attempt."""
    text = str(exc)
    low = text.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return f"{shown}: authentication failed (wrong user or password)"
    if "role" in low and "does not exist" in low:
        return f"{shown}: the user does not exist on the server"
    if "database" in low and "does not exist" in low:
        return f"{shown}: the database does not exist (create it: createdb, or CREATE DATABASE)"
    if "permission denied" in low or "not permitted" in low or "pg_hba.conf" in low:
        return f"{shown}: the server refuses this user: {one_line(exc)}"
    if "connection refused" in low or "no such file or directory" in low:
        return f"{shown}: connection refused (is the server running, on that host and port?)"
    if "could not translate host name" in low or "name or service not known" in low:
        return f"{shown}: unknown host"
    if "timeout" in low or "timed out" in low:
        return f"{shown}: no answer within {CONNECT_TIMEOUT} s"
    return f"{shown}: cannot connect: {one_line(exc)}"


def why_schema_failed(exc: Exception, shown: str) -> str:
    """One line for a schema that could not be created (missing rights, mostly)."""
    from psycopg import errors as pg

    if isinstance(exc, pg.InsufficientPrivilege):
        return (
            f"{shown}: this user may not create the tables ({one_line(exc)});"
            " grant it CREATE on the schema, or let an owner start it once"
        )
    return f"{shown}: cannot create the schema: {one_line(exc)}"
