"""Where the database lives: ``--db``, else ``$STATEMACHINE_DB``, else ``./data/pipeline.db``."""

from __future__ import annotations

import os

#: the published package's location, relative to the current working directory
DEFAULT_DB_PATH = os.path.join("data", "pipeline.db")

#: the environment variable every command and the runtime read when no ``--db`` is given
DB_ENV_VAR = "STATEMACHINE_DB"

MEMORY = ":memory:"


def resolve_db_path(flag: str | os.PathLike[str] | None = None) -> str:
    """The database path a command or runtime should use.

    ``flag`` (the ``--db`` value) wins, then ``$STATEMACHINE_DB``, then ``./data/pipeline.db``.
    ``":memory:"`` is passed through unchanged; ``~`` is expanded. Relative paths stay
    relative (to the current working directory), as in the published package.
    """
    if flag is not None and os.fspath(flag) != "":
        value = os.fspath(flag)
    else:
        value = os.environ.get(DB_ENV_VAR) or DEFAULT_DB_PATH
    if value == MEMORY:
        return value
    return os.path.expanduser(value)
