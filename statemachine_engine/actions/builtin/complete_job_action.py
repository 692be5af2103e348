"""``complete_job``: mark a job completed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import (
    no_store,
    publish_completed,
    publish_job_event,
    resolved_job_id,
    store_of,
)
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError

if TYPE_CHECKING:
    from statemachine_engine.persistence import Store


class CompleteJobAction(BaseAction):
    """Mark the job ``job_id`` completed and publish ``job_completed``.

    The machine's current job (claimed by this machine) is completed without waiting for
    the disk: the write commits with the store's next batch, within about 10 ms (if the
    process dies first, the job runs again once its lease lapses). When this machine no
    longer holds its current job (its lease lapsed and another worker took it), the
    action fails instead of completing someone else's run; a current job this machine
    completed already succeeds (a durable machine resumed at this action runs it again).
    Any other job (``job_id`` given) is completed at once, whoever holds it, and the
    action waits for it.

    Keys:
        job_id: the job; default the current job (``{job_id}``).
        result: a value stored with the job (any JSON value); default none.
        success: event when done; default ``success``.
        error: event when ``job_id`` is missing or unresolved, the job does not exist, or
            the store failed; default ``error`` (the published package reported success
            for a job that did not exist).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "success", "error": "error"}
    KEYS: ClassVar[tuple[str, ...]] = ("job_id", "result")
    #: durable machines: its only effect is a store write, committed in order with the
    #: machine's checkpoint, so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

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
                f"complete_job needs a job_id; got {self.get_config_value('job_id')!r} and "
                "the machine has no current job",
            )
        result = self.get_config_value("result")
        current = context.get("current_job")
        worker: str | None = None
        if isinstance(current, Mapping) and current.get("id") == job_id:
            worker = self.host.machine_name  # its own job: only while it still holds it
            if store.complete_soon(job_id, worker=worker, result=result):
                publish_completed(self, current)
                return self.event("success", "success")
        try:
            job = await store.complete(job_id, result=result, worker=worker)
        except StoreError as exc:
            if worker is not None and await _completed_by(store, job_id, worker):
                # run again by a durable machine resumed at this action: the completion
                # was committed before its process died
                return self.event("success", "success")
            return fail(self, context, f"could not complete job {job_id!r}: {exc}")
        publish_job_event(self, "job_completed", job)
        return self.event("success", "success")


async def _completed_by(store: Store, job_id: str, worker: str) -> bool:
    """Whether ``worker`` completed ``job_id`` already."""
    try:
        job = await store.get_job(job_id)
    except StoreError:
        return False
    return job is not None and job.status == "completed" and job.claimed_by == worker
