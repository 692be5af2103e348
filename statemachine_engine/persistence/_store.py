"""SqliteStore: the runtime's store on SQLite (a file, or ``:memory:``), under trio.

The store's machinery is :class:`~statemachine_engine.persistence._sql_store.SqlStore`'s,
shared with PostgreSQL's store; on SQLite it runs on ``_connections``: a write transaction
commits on the trio thread while SQLite's lock is free, in the write connection's thread
when it must wait for it; reads run in worker threads (inline for ``:memory:``).
"""

from __future__ import annotations

from statemachine_engine.persistence._sql_store import SqlStore


class SqliteStore(SqlStore):
    """The :class:`~statemachine_engine.persistence.Store` on SQLite. Use :func:`open_store`."""
