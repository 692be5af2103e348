"""``check_database_queue``: claim the next job from the durable queue."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import trio

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._jobs import (
    count,
    lease_setting,
    no_store,
    number,
    optional_str,
    publish_job_event,
    put_job_in_context,
    store_of,
)
from statemachine_engine.actions.builtin._values import fail
from statemachine_engine.errors import StoreError

#: jobs claimed ahead at most for a machine that drains a backlog
DEFAULT_PREFETCH = 16
#: the largest ``prefetch`` accepted (one claim writes prefetch + 1 rows)
MAX_PREFETCH = 256


def _wait(action: BaseAction) -> float:
    return number(action, "wait", 1.0)


def _prefetch(action: BaseAction) -> int:
    return count(action, "prefetch", DEFAULT_PREFETCH, MAX_PREFETCH)


class CheckDatabaseQueueAction(BaseAction):
    """Claim the next due pending job for this machine, atomically.

    Keys:
        job_type: only jobs of this type; default any (the published package defaulted to
            the legacy ``face_processing``).
        machine_type: only jobs routed to this machine type; default any.
        wait: seconds to wait for a job when the queue is empty, woken at once when one is
            added in this process; default 1. ``0`` answers at once.
        lease: seconds the claim holds the job before it may go to another worker (renewed
            while this machine runs); default the store's (60).
        prefetch: when this machine keeps coming back for jobs (within half a second), up
            to this many more are claimed for it ahead, in the same statement, and handed
            over on its next checks without a database round trip; default 16, at most
            256, ``0`` claims one job per check. Jobs claimed ahead show as ``processing`` for this
            machine with no ``started_at`` and no attempt counted until handed over, and
            go back to ``pending`` as they were when the machine stops or takes no job
            for half a second.
        success: event when a job was claimed; default ``new_job``.
        empty: event when no job came within ``wait``; default ``no_jobs``.
        error: event when the store failed; default ``error``.

    A claimed job becomes the current job: ``current_job``, ``job_id``, ``id``,
    ``job_type`` and its data keys are set in the context (the previous job's data keys
    removed), and ``job_started`` is published. The job is claimed by this machine's name.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {
        "success": "new_job",
        "empty": "no_jobs",
        "error": "error",
    }
    KEYS: ClassVar[tuple[str, ...]] = ("job_type", "machine_type", "wait", "lease", "prefetch")
    #: durable machines: its only effect is a store write, committed in order with the
    #: machine's checkpoint, so its start need not be on disk before it runs
    RERUN_SAFE: ClassVar[bool] = True

    #: opens no cancel scope before it blocks (see BaseAction)
    STARTS_UNSCOPED: ClassVar[bool] = True
    CHECKS: ClassVar[Mapping[str, Callable[[Any], object]]] = {
        "wait": _wait,
        "lease": lease_setting,
        "prefetch": _prefetch,
    }

    async def execute(self, context: dict[str, Any]) -> str | None:
        store = store_of(self)
        if store is None:
            return no_store(self, context)
        job_type = optional_str(self.get_config_value("job_type"))
        machine_type = optional_str(self.get_config_value("machine_type"))
        wait = _wait(self)
        lease = lease_setting(self)
        prefetch = _prefetch(self)
        worker = self.host.machine_name
        deadline = trio.current_time() + wait
        try:
            while True:
                job = await store.claim_next(
                    job_type=job_type,
                    machine_type=machine_type,
                    worker=worker,
                    prefetch=prefetch,
                    **lease,
                )
                if job is not None:
                    break
                remaining = deadline - trio.current_time()
                if remaining <= 0 or not await store.wait_for_job(
                    job_type=job_type, machine_type=machine_type, within=remaining
                ):
                    return self.event("empty", "no_jobs")
        except StoreError as exc:
            return fail(self, context, f"could not claim a job: {exc}")
        put_job_in_context(context, job)
        publish_job_event(self, "job_started", job)
        return self.event("success", "new_job")

    async def until_worth_repeating(self, within: float, *, explicit: bool) -> None:
        """Repeated (``repeatable: true``): run again when a job for this machine is added,
        not on every tick (and at least every ``repeat_interval`` when one is given)."""
        store = store_of(self)
        if store is None:
            await trio.sleep(within)
            return
        await store.wait_for_job(
            job_type=optional_str(self.get_config_value("job_type")),
            machine_type=optional_str(self.get_config_value("machine_type")),
            within=within if explicit else math.inf,
        )
