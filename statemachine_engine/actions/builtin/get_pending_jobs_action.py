"""``get_pending_jobs``: list pending jobs into the context, without claiming them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import no_store, optional_str, store_of
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError


class GetPendingJobsAction(BaseAction):
    """Store the pending jobs (in claim order: priority, run_at, age) as a list of rows.

    Keys:
        job_type: only jobs of this type; default any.
        machine_type: only jobs routed to this machine type; default any.
        limit: at most this many; default all.
        store_as: the context key of the list; default ``pending_jobs``.
        success: event when there is at least one; default ``jobs_found``.
        empty: event when there is none (the list is stored empty); default ``no_jobs``.
        error: event when the store failed (the list is stored empty); default ``error``.

    Each row is a mapping with the job's columns (``id`` is the integer row id, as in the
    published package; ``data`` is a mapping).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "jobs_found",
        "empty": "no_jobs",
        "error": "error",
    }
    KEYS: ClassVar[tuple[str, ...]] = ("job_type", "machine_type", "limit", "store_as")
    #: durable machines: it only reads the store and sets the context (checkpointed),
    #: so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        store_as = str(self.get_config_value("store_as", "pending_jobs") or "pending_jobs")
        store = store_of(self)
        if store is None:
            context[store_as] = []
            return no_store(self, context)
        limit_value = self.get_config_value("limit")
        try:
            limit = int(limit_value) if limit_value not in (None, "") else None
        except (TypeError, ValueError):
            raise ValueError(f"limit: expected a whole number, got {limit_value!r}") from None
        try:
            jobs = await store.pending_jobs(
                job_type=optional_str(self.get_config_value("job_type")),
                machine_type=optional_str(self.get_config_value("machine_type")),
                limit=limit,
            )
        except StoreError as exc:
            context[store_as] = []
            return fail(self, context, f"could not list pending jobs: {exc}")
        context[store_as] = [job.as_dict() for job in jobs]
        if not jobs:
            return self.event("empty", "no_jobs")
        return self.event("success", "jobs_found")
