"""The durable job queue as plain functions over a ``sqlite3`` connection (the public
``jobs_sql``): this module gathers them from ``_jobs_claim_sql`` (enqueue and claim),
``_jobs_finish_sql`` (completion, failure, requeue, deletion) and ``_jobs_read_sql``.

Trio-free and synchronous: the ``statemachine-db`` command, worker scripts and the async
store's writer all call these. None of them commits; the caller owns the transaction (an
autocommit connection makes each single-statement call atomic on its own).

Semantics:

* ``attempts`` counts started claims: a claim starts an attempt, except for jobs claimed
  ahead for a worker (:func:`claim_many`), whose attempt starts when they are handed over
  (:func:`start_reserved`).
* A claim is ONE ``UPDATE ... WHERE id = (SELECT ... LIMIT n) AND status = 'pending'
  RETURNING *`` statement, so two workers (threads or processes) never get the same job
  (:func:`claim_many` then starts the first of its jobs, inside a savepoint).
  Order: ``priority`` (1 = highest), then ``run_at``, then age.
* A failed attempt with retries left goes back to ``pending`` with
  ``run_at = now + backoff * 2 ** (attempts - 1)``; otherwise it is ``failed`` for good.
* A ``processing`` job whose ``lease_until`` passed (its worker died) is handled like a
  failed attempt by :func:`requeue_expired`.
"""

from __future__ import annotations

from statemachine_engine.persistence._job_rows import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PRIORITY,
    DEFAULT_RETRY_BACKOFF,
    JOB_STATUSES,
    MAX_WHOLE,
    MIN_WHOLE,
    RUN_AT_RANGE,
    NewJob,
    decode_job,
)
from statemachine_engine.persistence._jobs_claim_sql import (
    add_job,
    add_jobs,
    claim_job,
    claim_many,
    claim_next,
    heartbeat,
    release_job,
    start_reserved,
)
from statemachine_engine.persistence._jobs_finish_sql import (
    complete_held_job,
    complete_job,
    delete_job,
    delete_jobs,
    fail_job,
    requeue_expired,
    reset_processing,
)
from statemachine_engine.persistence._jobs_read_sql import (
    count_jobs,
    count_retrying,
    get_job,
    job_statuses,
    list_jobs,
    next_due,
    pending_jobs,
    stuck_jobs,
)

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PRIORITY",
    "DEFAULT_RETRY_BACKOFF",
    "JOB_STATUSES",
    "MAX_WHOLE",
    "MIN_WHOLE",
    "RUN_AT_RANGE",
    "NewJob",
    "add_job",
    "add_jobs",
    "claim_job",
    "claim_many",
    "claim_next",
    "complete_held_job",
    "complete_job",
    "count_jobs",
    "count_retrying",
    "decode_job",
    "delete_job",
    "delete_jobs",
    "fail_job",
    "get_job",
    "heartbeat",
    "job_statuses",
    "list_jobs",
    "next_due",
    "pending_jobs",
    "release_job",
    "requeue_expired",
    "reset_processing",
    "start_reserved",
    "stuck_jobs",
]
