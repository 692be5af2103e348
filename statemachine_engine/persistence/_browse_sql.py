"""Every machine the database knows, running or ended, and how its status is derived.
Plain functions over a ``sqlite3`` connection.

A machine's status:

* ``running``: it has a registry row (``machine_state``) whose process is alive (a row whose
  pid no longer runs on this host was left by a killed runtime: ``stopped``);
* otherwise what its ``machine_runs`` row recorded when it ended: ``stopped`` (stopped on
  purpose: Ctrl-C, SIGTERM, a ``stop`` from its parent), ``failed`` (it crashed: an error of
  action ``(runtime)`` since it started) or ``finished`` (it reached a final state); a run
  still marked running without a registry row ended unrecorded (``stopped``).

Its state is the registry's while it runs, else the target of its last transition.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from statemachine_engine._liveness import pid_alive
from statemachine_engine.persistence._codec import loads_object
from statemachine_engine.persistence._timeline_sql import check_limit

STATUSES = ("running", "finished", "failed", "stopped")

#: the action name of the error a crashed machine leaves (``actors._reporter``)
CRASH_ACTION = "(runtime)"

_LIST = (
    "SELECT r.machine_name AS name, COALESCE(s.config_type, r.config_type) AS config,"
    " r.status AS run_status, COALESCE(r.started_at, s.started_at) AS started_at,"
    " r.ended_at AS ended_at, r.job_id AS run_job, s.machine_name AS live,"
    " s.current_state AS live_state, s.last_activity AS last_activity, s.context AS context,"
    " s.pid AS pid, s.endpoint AS endpoint"
    " FROM machine_runs r LEFT JOIN machine_state s ON s.machine_name = r.machine_name"
)
# registry rows of a program that kept no runs (an older runtime writing the same file)
_UNRUN = (
    "SELECT s.machine_name AS name, s.config_type AS config, 'running' AS run_status,"
    " s.started_at AS started_at, NULL AS ended_at, NULL AS run_job, s.machine_name AS live,"
    " s.current_state AS live_state, s.last_activity AS last_activity, s.context AS context,"
    " s.pid AS pid, s.endpoint AS endpoint FROM machine_state s"
    " WHERE NOT EXISTS (SELECT 1 FROM machine_runs r WHERE r.machine_name = s.machine_name)"
)


def plain_rows(conn: Any, sql: str, params: Sequence[Any] = ()) -> Iterable[tuple[Any, ...]]:
    """The rows of ``sql`` as plain tuples: a listing of thousands of rows then builds no
    dict per row (a SQLite cursor without the connection's row factory; another database's
    connection, such as the PostgreSQL adapter, gives its rows' values)."""
    if isinstance(conn, sqlite3.Connection):
        cursor = conn.cursor()
        cursor.row_factory = None
        rows: Iterable[tuple[Any, ...]] = cursor.execute(sql, params)
        return rows
    return (tuple(row.values()) for row in conn.execute(sql, params))


# -- written by the store -------------------------------------------------------------


def start_run(
    conn: sqlite3.Connection,
    machine_name: str,
    *,
    config_type: str | None,
    pid: int | None,
    timestamp: float,
) -> None:
    """A machine started (again): its run row starts over."""
    conn.execute(
        "INSERT INTO machine_runs (machine_name, config_type, status, started_at, pid)"
        " VALUES (?, ?, 'running', ?, ?) ON CONFLICT (machine_name) DO UPDATE SET"
        " config_type = excluded.config_type, status = 'running',"
        " started_at = excluded.started_at, ended_at = NULL, job_id = NULL, pid = excluded.pid",
        (machine_name, config_type, timestamp, pid),
    )


def end_run(conn: sqlite3.Connection, machine_name: str, *, stopped: bool, now: float) -> None:
    """A machine ended: ``stopped`` on purpose, else failed when it crashed since it
    started, else finished. Runs before the registry row goes (the job it held is read
    from its context)."""
    live = conn.execute(
        "SELECT context FROM machine_state WHERE machine_name = ?", (machine_name,)
    ).fetchone()
    job_id = job_of(loads_object(live["context"])) if live else None
    if stopped:
        status = "stopped"
    else:
        crashed = conn.execute(
            "SELECT 1 AS x FROM errors e JOIN machine_runs r ON r.machine_name = e.machine_name"
            " WHERE e.machine_name = ? AND e.action = ?"
            " AND e.timestamp >= COALESCE(r.started_at, 0) LIMIT 1",
            (machine_name, CRASH_ACTION),
        ).fetchone()
        status = "failed" if crashed else "finished"
    conn.execute(
        "UPDATE machine_runs SET status = ?, ended_at = ?, job_id = COALESCE(?, job_id)"
        " WHERE machine_name = ?",
        (status, now, job_id, machine_name),
    )


def job_of(context: dict[str, Any]) -> str | None:
    """The job a machine's context says it works on (``job_id``, else ``current_job.id``)."""
    job = context.get("job_id")
    if job is None and isinstance(context.get("current_job"), dict):
        job = context["current_job"].get("id") or context["current_job"].get("job_id")
    return str(job) if job is not None else None


# -- read by the monitor --------------------------------------------------------------


# the columns of _LIST / _UNRUN, read as plain tuples: a listing reads every machine and
# builds the full record only for those it returns
(_NAME, _CONFIG, _RUN_STATUS, _STARTED, _ENDED, _RUN_JOB, _LIVE, _LIVE_STATE, _LAST_ACTIVITY,
 _CONTEXT, _PID, _ENDPOINT) = range(12)  # fmt: skip


class _Entry(NamedTuple):
    updated: float
    name: str
    status: str
    row: tuple[Any, ...]


def all_machines(
    conn: sqlite3.Connection, alive: Callable[[Any], bool] = pid_alive
) -> list[_Entry]:
    """Every machine known, most recently active first."""
    entries = [_entry(row, alive) for row in plain_rows(conn, f"{_LIST} UNION ALL {_UNRUN}")]
    entries.sort(reverse=True)
    return entries


def _entry(row: tuple[Any, ...], alive: Callable[[Any], bool]) -> _Entry:
    if row[_LIVE] is not None:
        status = "running" if alive(row[_PID]) else "stopped"
        updated = row[_LAST_ACTIVITY]
    else:
        status = row[_RUN_STATUS] if row[_RUN_STATUS] != "running" else "stopped"
        updated = row[_ENDED] or row[_STARTED]
    return _Entry(updated or 0.0, row[_NAME], status, row)


def _durable_names(conn: sqlite3.Connection) -> set[str]:
    try:
        return {
            row["machine_name"] for row in conn.execute("SELECT machine_name FROM durable_machines")
        }
    except sqlite3.OperationalError:  # a database of the published package
        return set()


def _machine(entry: _Entry, durable: set[str]) -> dict[str, Any]:
    row = entry.row
    live = row[_LIVE] is not None
    context = loads_object(row[_CONTEXT]) if live else {}
    return {
        "name": entry.name,
        "config": row[_CONFIG],
        "state": row[_LIVE_STATE] if live else None,
        "status": entry.status,
        "started_at": row[_STARTED],
        "updated_at": entry.updated or None,
        "job_id": job_of(context) if live else row[_RUN_JOB],
        "last_event": None,
        "durable": entry.name in durable,
        "host": None,
        # the control socket a running machine listens on (None: the default path)
        "endpoint": row[_ENDPOINT],
    }


def fill_states(conn: sqlite3.Connection, machines: list[dict[str, Any]]) -> None:
    """Fill in each machine's last event, and the state of an ended one (its last
    transition's target): one index lookup per machine, so call it for a page."""
    for machine in machines:
        row = conn.execute(
            "SELECT to_state, event FROM state_transitions WHERE machine_name = ?"
            " ORDER BY timestamp DESC, id DESC LIMIT 1",
            (machine["name"],),
        ).fetchone()
        if row is None:
            continue
        machine["last_event"] = row["event"]
        if machine["state"] is None:
            machine["state"] = row["to_state"]


def machine_page(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    q: str | None = None,
    limit: int = 500,
    before: str | None = None,
    alive: Callable[[Any], bool] = pid_alive,
) -> dict[str, Any]:
    """``{"machines", "counts", "next_before"}``: machines of ``status`` (None or ``all``:
    any) whose name, config or state contains ``q``, most recently active first; counts per
    status over every machine. Raises ValueError for a bad status, limit or cursor."""
    if status not in (None, "all", *STATUSES):
        raise ValueError(f"status={status!r} is not one of all, {', '.join(STATUSES)}")
    check_limit(limit)
    entries = all_machines(conn, alive)
    counts = dict.fromkeys(STATUSES, 0)
    for entry in entries:
        counts[entry.status] += 1
    counts["all"] = len(entries)
    chosen = [e for e in entries if status in (None, "all") or e.status == status]
    if before:
        at, name = _decode_machine_cursor(before)
        chosen = [e for e in chosen if (e.updated, e.name) < (at, name)]
    durable = _durable_names(conn)
    if q:
        page = _matching(conn, chosen, q, durable, limit + 1)
    else:
        page = [_machine(e, durable) for e in chosen[: limit + 1]]
        fill_states(conn, page[:limit])
    more = len(page) > limit
    page = page[:limit]
    last = page[-1] if more else None
    return {
        "machines": page,
        "counts": counts,
        "next_before": f"{last['updated_at'] or 0.0!r}:{last['name']}" if last else None,
    }


def _decode_machine_cursor(text: str) -> tuple[float, str]:
    at, _, name = text.partition(":")
    try:
        value = float(at)
    except ValueError:
        value = float("nan")
    if not name or value != value:
        raise ValueError(
            f"before={text!r} is not a cursor of this listing (pass the next_before it returned)"
        )
    return value, name


def _matching(
    conn: sqlite3.Connection, entries: list[_Entry], q: str, durable: set[str], limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` machines whose name, config, state or job contains ``q``."""
    needle = q.lower()
    found: list[dict[str, Any]] = []
    for entry in entries:
        machine = _machine(entry, durable)
        fill_states(conn, [machine])
        text = f"{machine['name']} {machine['config']} {machine['state']} {machine['job_id']}"
        if needle in text.lower():
            found.append(machine)
            if len(found) == limit:
                break
    return found


def one_machine(
    conn: sqlite3.Connection, name: str, alive: Callable[[Any], bool] = pid_alive
) -> dict[str, Any] | None:
    """One machine as :func:`machine_page` lists it; None when the database never saw it."""
    rows = plain_rows(
        conn, f"SELECT * FROM ({_LIST} UNION ALL {_UNRUN}) AS m WHERE m.name = ?", (name,)
    )
    row = next(iter(rows), None)
    if row is None:
        return None
    machine = _machine(_entry(row, alive), _durable_names(conn))
    fill_states(conn, [machine])
    return machine


def transition_rates(
    conn: sqlite3.Connection, *, now: float, seconds: float = 60.0
) -> dict[str, float]:
    """Transitions per second over the last ``seconds``, per config."""
    rows = conn.execute(
        "SELECT COALESCE(r.config_type, '') AS config, count(*) AS n FROM state_transitions t"
        " LEFT JOIN machine_runs r ON r.machine_name = t.machine_name"
        " WHERE t.timestamp >= ? GROUP BY COALESCE(r.config_type, '')",
        (now - seconds,),
    )
    return {row["config"]: row["n"] / seconds for row in rows}
