"""What the job actions share: the store, putting a claimed job in the context, events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import current_job_id, fail

if TYPE_CHECKING:
    from statemachine_engine.persistence import Job, Store

#: context keys a job's data never overwrites (the engine and the job actions own them)
RESERVED_KEYS = frozenset(
    {
        "machine_name",
        "current_state",
        "event_data",
        "current_job",
        "job_id",
        "id",
        "job_type",
        "source_job_id",
        "last_error",
        "last_error_action",
    }
)

NO_STORE = (
    "this runtime has no store (no database): job actions need one; start the machine with "
    "a database (--db or STATEMACHINE_DB)"
)


def store_of(action: BaseAction) -> Store | None:
    """The runtime's store, or None."""
    host = getattr(action, "host", None)
    return host.store if host is not None else None


def no_store(action: BaseAction, context: dict[str, Any]) -> str | None:
    """Fail the action because the runtime has no store."""
    return fail(action, context, NO_STORE)


def job_as_context(job: Job) -> dict[str, Any]:
    """The ``current_job`` mapping: the row, with ``id`` the job id string (as the published
    package's ``check_database_queue`` gives it, so ``{current_job.id}`` keeps working) and
    the integer row id under ``row_id``."""
    row = job.as_dict()
    row["row_id"] = row["id"]
    row["id"] = job.job_id
    return row


def put_job_in_context(context: dict[str, Any], job: Job) -> None:
    """Make ``job`` the machine's current job.

    Sets ``current_job``, ``job_id``, ``id`` (the job id string), ``job_type``,
    ``source_job_id`` and every key of the job's data (except the reserved keys above).
    The data keys the previous job brought in are removed first, when they still hold
    that job's values, so nothing leaks from one job into the next.
    """
    clear_job_data(context)
    data = dict(job.data)
    context["current_job"] = job_as_context(job)
    context["job_id"] = job.job_id
    context["id"] = job.job_id
    context["job_type"] = job.job_type
    if job.source_job_id is not None:
        context["source_job_id"] = job.source_job_id
    else:
        context.pop("source_job_id", None)
    for key, value in data.items():
        if key not in RESERVED_KEYS and value is not None:
            context[key] = value


def clear_job_data(context: dict[str, Any]) -> None:
    """Remove the data keys the current job put in the context (unless changed since)."""
    previous = context.get("current_job")
    if not isinstance(previous, Mapping):
        return
    data = previous.get("data")
    if not isinstance(data, Mapping):
        return
    for key, value in data.items():
        if key not in RESERVED_KEYS and key in context and context[key] == value:
            del context[key]


def job_event_payload(job: Job, timestamp: float) -> dict[str, Any]:
    """The payload of ``job_started`` / ``job_completed`` monitor events."""
    return _job_payload(job.job_id, job.job_type, job.status, job.attempts, timestamp)


def _job_payload(
    job_id: Any, job_type: Any, status: str, attempts: Any, timestamp: float
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "job_type": job_type,
        "status": status,
        "attempts": attempts,
        "timestamp": timestamp,
    }


def publish_job_event(action: BaseAction, event_type: str, job: Job) -> None:
    action.host.publish(event_type, job_event_payload(job, action.host.wall_time()))


def publish_completed(action: BaseAction, current_job: Mapping[str, Any]) -> None:
    """``job_completed`` for the machine's current job (``current_job`` in the context)."""
    payload = _job_payload(
        current_job.get("id"),
        current_job.get("job_type"),
        "completed",
        current_job.get("attempts"),
        action.host.wall_time(),
    )
    action.host.publish("job_completed", payload)


def optional_str(value: Any) -> str | None:
    """A filter value from YAML: None/empty means "any"."""
    if value is None or value == "":
        return None
    return str(value)


def number(action: BaseAction, key: str, default: float) -> float:
    """A non-negative number setting; raises ValueError naming the key."""
    value = action.get_config_value(key, default)
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a number of seconds, got {value!r}") from None
    if result < 0:
        raise ValueError(f"{key}: expected a number >= 0, got {value!r}")
    return result


def count(action: BaseAction, key: str, default: int, maximum: int) -> int:
    """A whole number setting from 0 to ``maximum``; raises ValueError naming the key."""
    value = action.get_config_value(key, default)
    expected = f"{key}: expected a whole number from 0 to {maximum}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(expected)
    try:
        result = int(value)
    except ValueError:
        raise ValueError(expected) from None
    if not 0 <= result <= maximum:
        raise ValueError(expected)
    return result


def lease_setting(action: BaseAction) -> dict[str, float]:
    """``{"lease_seconds": n}`` from the ``lease`` key, or ``{}`` for the store's default."""
    if action.get_config_value("lease") in (None, ""):
        return {}
    lease = number(action, "lease", 0)
    if lease <= 0:
        raise ValueError(f"lease: expected a number of seconds > 0, got {lease}")
    return {"lease_seconds": lease}


def string_list(value: Any) -> list[str]:
    """A YAML value that may be one string or a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(item) for item in value if item not in (None, "")]
    return [str(value)]


def resolved_job_id(action: BaseAction, context: dict[str, Any]) -> str | None:
    """The ``job_id`` setting as a string (default: the machine's current job, as
    ``"{job_id}"`` would give), or None when there is none or it still holds an unresolved
    ``{placeholder}``."""
    value = action.get_config_value("job_id")
    if value is None:
        return current_job_id(context)
    text = str(value).strip()
    if not text or ("{" in text and "}" in text):
        return None
    return text
