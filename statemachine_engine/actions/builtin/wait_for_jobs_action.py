"""``wait_for_jobs``: wait until the jobs this machine tracks are finished."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import no_store, number, store_of
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError


def _timeout(action: BaseAction) -> float:
    return number(action, "timeout", 300.0)


class WaitForJobsAction(BaseAction):
    """Wait until every job listed in ``context[tracked_jobs_key]`` is completed or failed.

    Instead of the published package's polling, the action waits for completion
    notifications from the store (jobs finished by other processes are noticed by the
    store's slow poll), for at most ``timeout`` seconds.

    Keys:
        tracked_jobs_key: context key of the job ids (strings, or mappings with a
            ``job_id``); default ``spawned_jobs``.
        timeout: seconds to wait at most; default 300.
        success: event when all are finished; default ``all_jobs_complete``.
        failed: event when all are finished and at least one failed; default: ``success``.
        timeout_event: event when the timeout passes first; default: ``pending``.
        pending: event when the timeout passes and ``timeout_event`` is not set; default
            none (the machine stays in its state, as upstream).
        error: event when the store failed; default ``error``.

    Sets ``completed_jobs``, ``failed_jobs`` and ``pending_jobs`` (lists of ids; a job
    that does not exist yet counts as pending). With no tracked jobs it returns
    ``no_jobs_tracked``.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "all_jobs_complete",
        "failed": None,
        "timeout_event": None,
        "pending": None,
        "empty": "no_jobs_tracked",
        "error": "error",
    }
    KEYS: ClassVar[tuple[str, ...]] = ("tracked_jobs_key", "timeout", "poll_interval")
    CHECKS: ClassVar[Mapping[str, Callable[[Any], object]]] = {"timeout": _timeout}
    #: durable machines: it only reads the store and sets the context (checkpointed),
    #: so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    async def execute(self, context: dict[str, Any]) -> str | None:
        key = str(self.get_config_value("tracked_jobs_key", "spawned_jobs") or "spawned_jobs")
        job_ids = _job_ids(context.get(key))
        if not job_ids:
            return self.event("empty", "no_jobs_tracked")
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        timeout = _timeout(self)
        try:
            statuses = await store.wait_until_finished(job_ids, within=timeout)
        except StoreError as exc:
            return fail(self, context, f"could not read the status of the tracked jobs: {exc}")
        completed = [j for j in job_ids if statuses.get(j) == "completed"]
        failed = [j for j in job_ids if statuses.get(j) == "failed"]
        pending = [j for j in job_ids if statuses.get(j) not in ("completed", "failed")]
        context["completed_jobs"] = completed
        context["failed_jobs"] = failed
        context["pending_jobs"] = pending
        if pending:
            self.logger.info(
                "[%s] %d of %d tracked jobs still unfinished after %ss",
                self.host.machine_name,
                len(pending),
                len(job_ids),
                timeout,
            )
            return self.event("timeout_event") or self.event("pending")
        if failed:
            return self.event("failed") or self.event("success", "all_jobs_complete")
        return self.event("success", "all_jobs_complete")


def _job_ids(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("job_id", item.get("id"))
        if item not in (None, ""):
            ids.append(str(item))
    return list(dict.fromkeys(ids))
