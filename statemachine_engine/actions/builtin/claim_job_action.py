"""``claim_job``: claim one named job from the durable queue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import (
    lease_setting,
    no_store,
    publish_job_event,
    put_job_in_context,
    store_of,
)
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError


class ClaimJobAction(BaseAction):
    """Claim the pending job ``job_id`` for this machine, atomically.

    Keys:
        job_id: the job to claim (required).
        lease: seconds the claim holds the job (renewed while this machine runs); default
            the store's (60).
        success: event when claimed; default ``claimed``.
        already_claimed: event when the job exists but is not pending (another worker has
            it, or it is finished); default ``already_claimed``.
        error: event when the job does not exist, ``job_id`` is missing or the store failed;
            default ``error`` (the published package answered ``already_claimed`` for a
            job that does not exist).

    The claimed job becomes the current job (see ``check_database_queue``) and
    ``job_started`` is published.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "claimed",
        "already_claimed": "already_claimed",
        "error": "error",
    }
    REQUIRED: ClassVar[tuple[str, ...]] = ("job_id",)
    KEYS: ClassVar[tuple[str, ...]] = ("job_id", "lease")
    CHECKS: ClassVar[Mapping[str, Callable[[Any], object]]] = {"lease": lease_setting}

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        raw = self.get_config_value("job_id")
        job_id = str(raw).strip() if raw is not None else ""
        if not job_id or ("{" in job_id and "}" in job_id):
            return fail(self, context, f"claim_job needs a job_id; got {raw!r}")
        lease = lease_setting(self)
        try:
            job = await store.claim(job_id, worker=self.host.machine_name, **lease)
            if job is None:
                existing = await store.get_job(job_id)
                if existing is None:
                    return fail(self, context, f"job {job_id!r} not found")
                self.logger.info(
                    "[%s] job %s is %s, not pending",
                    self.host.machine_name,
                    job_id,
                    existing.status,
                )
                return self.event("already_claimed", "already_claimed")
        except StoreError as exc:
            return fail(self, context, f"could not claim job {job_id!r}: {exc}")
        put_job_in_context(context, job)
        publish_job_event(self, "job_started", job)
        return self.event("success", "claimed")
