"""Where the database lives: ``--db``, else ``$STATEMACHINE_DB``, else ``./data/pipeline.db``;
and the host a runtime is known by there: ``$STATEMACHINE_HOST``, else the host name.

A value is a SQLite file path, ``:memory:``, or a ``postgresql://`` URL; a URL may carry a
password, so whatever prints or logs a database says :func:`redact_db` of it.
"""

from __future__ import annotations

import os
import re
import socket

#: the published package's location, relative to the current working directory
DEFAULT_DB_PATH = os.path.join("data", "pipeline.db")

#: the environment variable every command and the runtime read when no ``--db`` is given
DB_ENV_VAR = "STATEMACHINE_DB"

MEMORY = ":memory:"

#: the environment variable naming the host a runtime is known by (default: its host name)
HOST_ENV_VAR = "STATEMACHINE_HOST"

#: the URL schemes of a PostgreSQL database; any other value is a SQLite file
DB_URL_SCHEMES = ("postgresql://", "postgres://")

# user:PASSWORD@ in the authority, and password=PASSWORD among the query parameters
_URL_PASSWORD = re.compile(r"^(?P<head>[a-z]+://[^/@:]*:)[^/]*(?P<tail>@)")
_PARAM_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&]*")


def host_name() -> str:
    """The host this process's machines are registered as: ``$STATEMACHINE_HOST``, else
    the machine's host name (two containers with the same host name need the variable)."""
    return os.environ.get(HOST_ENV_VAR) or socket.gethostname()


def is_db_url(value: str) -> bool:
    """Whether a ``--db`` value names a PostgreSQL database (a URL) rather than a file."""
    return value.startswith(DB_URL_SCHEMES)


def redact_db(value: str) -> str:
    """``value`` as it may be printed or logged: a URL's password (``user:secret@`` or
    ``?password=secret``) becomes ``***``; a file path is returned as it is."""
    if not is_db_url(value):
        return value
    value = _URL_PASSWORD.sub(r"\g<head>***\g<tail>", value, count=1)
    return _PARAM_PASSWORD.sub(r"\g<head>***", value)


def resolve_db_path(flag: str | os.PathLike[str] | None = None) -> str:
    """The database path (or URL) a command or runtime should use.

    ``flag`` (the ``--db`` value) wins, then ``$STATEMACHINE_DB``, then ``./data/pipeline.db``.
    ``":memory:"`` and ``postgresql://`` URLs are passed through unchanged; ``~`` is
    expanded. Relative paths stay relative (to the current working directory), as in the
    published package.
    """
    if flag is not None and os.fspath(flag) != "":
        value = os.fspath(flag)
    else:
        value = os.environ.get(DB_ENV_VAR) or DEFAULT_DB_PATH
    if value == MEMORY or is_db_url(value):
        return value
    return os.path.expanduser(value)
