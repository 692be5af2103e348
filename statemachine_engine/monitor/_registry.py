"""The machine registry of a database file, read without writing (the monitor's ``--db``).

The monitor only needs the registry rows to seed its snapshot; the store reads the file
read-only so that the monitor never migrates, locks or otherwise changes a database the
runtimes own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.persistence import read_registry

__all__ = ["DatabaseRegistry"]


class DatabaseRegistry:
    """A :class:`~statemachine_engine.monitor.Registry` over the ``machine_state`` table.

    :meth:`machines` raises :class:`~statemachine_engine.errors.StoreError` naming the file
    when it cannot be read.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return await trio.to_thread.run_sync(read_registry, self.path)
