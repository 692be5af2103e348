"""Persistence: the store protocol, the SQLite store, the durable job queue.

Names are imported lazily: the ``statemachine-db`` command uses the trio-free SQL modules
and must not import trio (or attrs) through this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Browse": "statemachine_engine.persistence._browse",
    "JobStateError": "statemachine_engine.persistence._jobs_admin_sql",
    "browse_file": "statemachine_engine.persistence._store_browse",
    "CheckpointRecord": "statemachine_engine.persistence._records",
    "DurableLog": "statemachine_engine.persistence._store_durable",
    "INBOX_STATUSES": "statemachine_engine.persistence._durable_sql",
    "OUTBOX_STATUSES": "statemachine_engine.persistence._durable_sql",
    "Recovery": "statemachine_engine.persistence._store_durable",
    "dumps_context": "statemachine_engine.persistence._codec",
    "loads_context": "statemachine_engine.persistence._codec",
    "DB_ENV_VAR": "statemachine_engine.persistence._paths",
    "DEFAULT_DB_PATH": "statemachine_engine.persistence._paths",
    "DB_URL_SCHEMES": "statemachine_engine.persistence._paths",
    "host_name": "statemachine_engine.persistence._paths",
    "is_db_url": "statemachine_engine.persistence._paths",
    "connect_postgres": "statemachine_engine.persistence._pg_commands",
    "recreate_postgres_schema": "statemachine_engine.persistence._pg_commands",
    "redact_db": "statemachine_engine.persistence._paths",
    "EVENT_STATUSES": "statemachine_engine.persistence._records_sql",
    "JOB_STATUSES": "statemachine_engine.persistence._jobs_sql",
    "Job": "statemachine_engine.persistence._protocol",
    "JobQueue": "statemachine_engine.persistence._protocol",
    "NewJob": "statemachine_engine.persistence._jobs_sql",
    "Notices": "statemachine_engine.persistence._pg_notices",
    "Recorder": "statemachine_engine.persistence._protocol",
    "SCHEMA_VERSION": "statemachine_engine.persistence._schema",
    "SYNC_MODES": "statemachine_engine.persistence._open",
    "PostgresStore": "statemachine_engine.persistence._pg_store",
    "SqlStore": "statemachine_engine.persistence._sql_store",
    "SqliteStore": "statemachine_engine.persistence._store",
    "Store": "statemachine_engine.persistence._protocol",
    "connect": "statemachine_engine.persistence._schema",
    "open_memory_store": "statemachine_engine.persistence._open",
    "open_store": "statemachine_engine.persistence._open",
    "read_registry": "statemachine_engine.persistence._registry_file",
    "recreate_schema": "statemachine_engine.persistence._schema",
    "resolve_db_path": "statemachine_engine.persistence._paths",
    "transaction": "statemachine_engine.persistence._schema",
}

#: the synchronous SQL layer, for scripts and other processes (``jobs_sql.claim_next(conn,
#: ...)`` on a connection from :func:`connect`)
_MODULES: dict[str, str] = {
    "audit_sql": "statemachine_engine.persistence._audit_sql",
    "durable_sql": "statemachine_engine.persistence._durable_sql",
    "jobs_admin_sql": "statemachine_engine.persistence._jobs_admin_sql",
    "jobs_sql": "statemachine_engine.persistence._jobs_sql",
    "records_sql": "statemachine_engine.persistence._records_sql",
    "remote_sql": "statemachine_engine.persistence._remote_sql",
}

__all__ = [
    "DB_ENV_VAR",
    "DB_URL_SCHEMES",
    "DEFAULT_DB_PATH",
    "EVENT_STATUSES",
    "INBOX_STATUSES",
    "JOB_STATUSES",
    "OUTBOX_STATUSES",
    "SCHEMA_VERSION",
    "SYNC_MODES",
    "Browse",
    "CheckpointRecord",
    "DurableLog",
    "Job",
    "JobQueue",
    "JobStateError",
    "NewJob",
    "Notices",
    "PostgresStore",
    "Recorder",
    "Recovery",
    "SqlStore",
    "SqliteStore",
    "Store",
    "audit_sql",
    "browse_file",
    "connect",
    "connect_postgres",
    "dumps_context",
    "durable_sql",
    "host_name",
    "is_db_url",
    "jobs_admin_sql",
    "jobs_sql",
    "loads_context",
    "open_memory_store",
    "open_store",
    "read_registry",
    "records_sql",
    "recreate_postgres_schema",
    "recreate_schema",
    "redact_db",
    "remote_sql",
    "resolve_db_path",
    "transaction",
]

if TYPE_CHECKING:
    from statemachine_engine.persistence import _audit_sql as audit_sql
    from statemachine_engine.persistence import _durable_sql as durable_sql
    from statemachine_engine.persistence import _jobs_admin_sql as jobs_admin_sql
    from statemachine_engine.persistence import _jobs_sql as jobs_sql
    from statemachine_engine.persistence import _records_sql as records_sql
    from statemachine_engine.persistence import _remote_sql as remote_sql
    from statemachine_engine.persistence._browse import Browse
    from statemachine_engine.persistence._codec import dumps_context, loads_context
    from statemachine_engine.persistence._durable_sql import INBOX_STATUSES, OUTBOX_STATUSES
    from statemachine_engine.persistence._jobs_admin_sql import JobStateError
    from statemachine_engine.persistence._jobs_sql import JOB_STATUSES, NewJob
    from statemachine_engine.persistence._open import SYNC_MODES, open_memory_store, open_store
    from statemachine_engine.persistence._paths import (
        DB_ENV_VAR,
        DB_URL_SCHEMES,
        DEFAULT_DB_PATH,
        host_name,
        is_db_url,
        redact_db,
        resolve_db_path,
    )
    from statemachine_engine.persistence._pg_commands import (
        connect_postgres,
        recreate_postgres_schema,
    )
    from statemachine_engine.persistence._pg_notices import Notices
    from statemachine_engine.persistence._pg_store import PostgresStore
    from statemachine_engine.persistence._protocol import Job, JobQueue, Recorder, Store
    from statemachine_engine.persistence._records import CheckpointRecord
    from statemachine_engine.persistence._records_sql import EVENT_STATUSES
    from statemachine_engine.persistence._registry_file import read_registry
    from statemachine_engine.persistence._schema import (
        SCHEMA_VERSION,
        connect,
        recreate_schema,
        transaction,
    )
    from statemachine_engine.persistence._sql_store import SqlStore
    from statemachine_engine.persistence._store import SqliteStore
    from statemachine_engine.persistence._store_browse import browse_file
    from statemachine_engine.persistence._store_durable import DurableLog, Recovery


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, modules=_MODULES)
