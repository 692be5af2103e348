"""The database file on disk: created owner-only, and what keeps one from being opened.

Trio-free, like the schema module that calls it.
"""

from __future__ import annotations

import os

from statemachine_engine.persistence._codec import errors
from statemachine_engine.persistence._paths import is_db_url, redact_db


def prepare_file(name: str) -> None:
    """Create the folders and an empty database file, owner-only, when they do not exist.

    SQLite would create the file world-readable (0644 under the usual umask), and its
    ``-wal`` and ``-shm`` files take the database file's mode: an empty file made here with
    0600 (SQLite reads it as an empty database) keeps payloads and contexts from other
    users. A file or folder that exists is left as it is.
    """
    if is_db_url(name):
        # never a folder named "postgresql:" in the current directory
        raise errors().StoreError(
            f"{redact_db(name)}: a PostgreSQL URL cannot be opened as a SQLite database file"
        )
    if os.path.isdir(name):
        raise errors().StoreError(f"database path {name} is a directory, not a file")
    folder = os.path.dirname(os.path.abspath(name))
    _make_folders(folder)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # there already, or another process created it a moment ago
    except PermissionError:
        raise errors().StoreError(
            f"permission denied: cannot create {name}: the folder {folder} is not writable"
            " by this user"
        ) from None
    except OSError as exc:
        raise errors().StoreError(f"cannot create the database {name}: {exc.strerror}") from None
    os.close(fd)


def _make_folders(folder: str) -> None:
    """Create ``folder`` and its missing parents, each owner-only (0700)."""
    missing: list[str] = []
    path = folder
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue  # made by another process meanwhile (a file there fails the next step)
        except PermissionError:
            raise errors().StoreError(
                f"permission denied: cannot create the database folder {path}: the folder"
                f" {os.path.dirname(path)} is not writable by this user"
            ) from None
        except OSError as exc:
            raise errors().StoreError(
                f"cannot create the database folder {folder}: {exc.strerror or exc}"
            ) from None


def why_not_writable(path: str, *, read_only: bool) -> str:
    """What keeps SQLite from opening ``path`` for writing, found out on the file system
    (SQLite only says "unable to open" or "readonly")."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return f"cannot open the database {path}: its folder {folder} does not exist"
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        return f"permission denied: cannot open {path} for writing"
    for suffix in ("-wal", "-shm"):
        beside = path + suffix
        if os.path.exists(beside) and not os.access(beside, os.R_OK | os.W_OK):
            return f"permission denied: cannot open {beside} for writing"
    if not os.access(folder, os.W_OK | os.X_OK):
        # WAL mode needs the -wal and -shm files beside the database
        return (
            f"permission denied: cannot create {path}-wal and {path}-shm: the folder {folder}"
            " is not writable by this user"
        )
    if read_only:
        return f"the database {path} is read-only (a read-only file system?)"
    return f"cannot open the database {path}: check that the path and its folder exist"
