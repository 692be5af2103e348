"""The machine registry of a database file, read without writing (the monitor's ``--db``).

The monitor only needs the registry rows to seed its snapshot; it opens the file read-only
so that it never migrates, locks or otherwise changes a database the runtimes own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.persistence._codec import row_dict
from statemachine_engine.persistence._records_sql import list_machines
from statemachine_engine.persistence._schema import raise_store_error

__all__ = ["DatabaseRegistry"]


class DatabaseRegistry:
    """A :class:`~statemachine_engine.monitor.Registry` over the ``machine_state`` table.

    :meth:`machines` raises :class:`~statemachine_engine.errors.StoreError` naming the file
    when it cannot be read.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return await trio.to_thread.run_sync(self._read)

    def _read(self) -> list[dict[str, Any]]:
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=5.0)
        except sqlite3.Error as exc:
            raise_store_error(exc, self.path)
        try:
            conn.row_factory = row_dict
            return list_machines(conn)
        except sqlite3.Error as exc:
            raise_store_error(exc, self.path)
        finally:
            conn.close()
