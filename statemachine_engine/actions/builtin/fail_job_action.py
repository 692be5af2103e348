"""``fail_job``: record a failed attempt of a job (retried with backoff while attempts last)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import (
    no_store,
    publish_job_event,
    resolved_job_id,
    store_of,
)
from statemachine_engine.actions.builtin._values import as_bool, fail
from statemachine_engine.errors import StoreError


class FailJobAction(BaseAction):
    """Record that an attempt at job ``job_id`` failed.

    Keys:
        job_id: the job; default the current job (``{job_id}``).
        reason (or ``error_message``): why; default the context's ``last_error``.
        retry: when true (the default) and the job has attempts left, it goes back to the
            queue after an exponential backoff; when false it fails for good.
        success: event when recorded; default ``success``.
        error: event when ``job_id`` is missing, the job does not exist, or the store
            failed; default ``error``.

    When the job failed for good, ``job_completed`` is published with status ``failed``.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "success", "error": "error"}
    KEYS: ClassVar[tuple[str, ...]] = ("job_id", "reason", "error_message", "retry")

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        job_id = resolved_job_id(self, context)
        if job_id is None:
            return fail(
                self,
                context,
                f"fail_job needs a job_id; got {self.get_config_value('job_id')!r} and the "
                "machine has no current job",
            )
        reason = self.get_config_value("reason", self.get_config_value("error_message"))
        if reason in (None, ""):
            reason = context.get("last_error") or f"failed by {self.host.machine_name}"
        retry = as_bool(self.get_config_value("retry", True), key="fail_job: retry")
        try:
            job = await store.fail(job_id, error=str(reason), retry=retry)
        except StoreError as exc:
            return fail(self, context, f"could not fail job {job_id!r}: {exc}")
        if job.status == "failed":
            publish_job_event(self, "job_completed", job)
        return self.event("success", "success")
