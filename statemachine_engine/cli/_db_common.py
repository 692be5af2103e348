"""Shared pieces of ``statemachine-db``: argument types, errors, the database handle."""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NoReturn, cast

from statemachine_engine import _strict_json
from statemachine_engine.cli._db_output import (
    shorten,
)
from statemachine_engine.persistence import (
    DB_ENV_VAR,
    connect,
    connect_postgres,
    is_db_url,
    redact_db,
    resolve_db_path,
)
from statemachine_engine.persistence import jobs_sql as jobs
from statemachine_engine.persistence import records_sql as records

PROG = "statemachine-db"

# Job statuses and event statuses (as in _jobs_sql / _records_sql), spelled out here so
# that --help needs no import beyond the SQL modules.
JOB_STATUSES = jobs.JOB_STATUSES
EVENT_STATUSES = records.EVENT_STATUSES


class UserError(Exception):
    """Bad input or something not found: reported on one line, exit status 1."""


# -- arguments ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Usage mistakes exit with status 2 and one line, as argparse's do in every command
    (bad input found later, such as a missing job, exits 1)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the subcommands' parsers, by name (filled on the top-level parser)
        self.commands: Mapping[str, argparse.ArgumentParser] = {}

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _whole_from(lowest: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    # (what the stores hold: a larger number would fail in SQL, not here)
    if not lowest <= value <= jobs.MAX_WHOLE:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from {lowest} to {jobs.MAX_WHOLE}, got {value}"
        )
    return value


def _positive_int(text: str) -> int:
    return _whole_from(1, text)


def _priority(text: str) -> int:
    return _whole_from(jobs.MIN_WHOLE, text)


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < math.inf:  # (NaN fails too)
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_when(text: str, *, now: float) -> float:
    """``--run-at``: epoch seconds, ``+N[s|m|h|d]`` from now, or an ISO-8601 date-time
    (local time unless it carries an offset), from 1970 to 9999."""
    when = _parse_when(text, now=now)
    low, high = jobs.RUN_AT_RANGE
    if not low <= when <= high:  # (NaN fails too)
        raise UserError(f"--run-at: {text!r} is not a time from 1970 to 9999")
    return when


def _parse_when(text: str, *, now: float) -> float:
    value = text.strip()
    if value.startswith("+"):
        number, unit = value[1:], ""
        if number and number[-1].lower() in "smhd":
            number, unit = number[:-1], number[-1].lower()
        try:
            return now + float(number) * _UNITS[unit]
        except ValueError:
            pass
    else:
        try:
            return float(value)
        except ValueError:
            pass
        from datetime import datetime  # only --run-at needs it

        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise UserError(
        f"--run-at: cannot read {text!r}; use epoch seconds, +30s / +5m / +2h / +1d, "
        "or an ISO-8601 date-time such as 2026-05-01T12:00:00"
    )


def _json_arg(flag: str, text: str | None, *, want_object: bool) -> Any:
    if text is None:
        return None
    try:
        value = _strict_json.loads(text)
    except ValueError as exc:
        raise UserError(f"{flag} is not valid JSON ({exc}): {shorten(text, 60)}") from None
    if want_object and not isinstance(value, dict):
        raise UserError(f'{flag} must be a JSON object such as \'{{"key": "value"}}\'')
    return value


#: what ``--db`` takes, for the help of every subcommand
DB_HELP = (
    "SQLite database file, or a postgresql://USER@HOST:PORT/DBNAME URL "
    "(default: $STATEMACHINE_DB, else ./data/pipeline.db)"
)


def shown_db(args: argparse.Namespace) -> str:
    """The database of ``--db`` as messages name it: a URL without its password."""
    return redact_db(resolve_db_path(args.db))


@contextmanager
def _database(args: argparse.Namespace, *, migrate: bool = True) -> Iterator[sqlite3.Connection]:
    """The database of ``--db`` (created on first use), closed afterwards.

    A command marked ``existing`` (it reads or changes what a database holds) refuses a
    database file that does not exist: a mistyped path must not become a new, empty
    database (and folders) that then answers "no jobs". A PostgreSQL URL names a database
    the server has or refuses (the store's StoreError says which); its tables are created
    on first use, as a file's are.
    """
    path = resolve_db_path(args.db)
    url = is_db_url(path)
    if not url and getattr(args, "existing", False) and not os.path.exists(path):
        raise UserError(f"no database at {path}; check --db / ${DB_ENV_VAR}")
    if url:
        # the same SQL on the server, through a connection with sqlite3's surface
        conn = cast("sqlite3.Connection", connect_postgres(path, migrate=migrate))
    else:
        conn = connect(path, migrate=migrate)
    try:
        yield conn
    finally:
        conn.close()
