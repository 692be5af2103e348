"""A job worker as its own OS process, for the fault tests (run as a script).

    python worker_process.py DB NAME drain LEASE   claim and complete until the queue is empty
    python worker_process.py DB NAME race LEASE    print ``ready``, wait for a line on stdin,
                                                   then drain (workers that start together)
    python worker_process.py DB NAME hold LEASE    claim one job, report it, then hang

Uses only the synchronous SQL layer, as a worker in another language or process would.
Every completed job id is printed on its own line; ``claimed <id>`` when holding.
"""

from __future__ import annotations

import sys
import time

from statemachine_engine.persistence import connect, jobs_sql


def main(db: str, name: str, mode: str, lease: float) -> None:
    conn = connect(db)
    if mode == "race":
        print("ready", flush=True)
        sys.stdin.readline()
    while True:
        now = time.time()
        job = jobs_sql.claim_next(
            conn, job_type="t", machine_type=None, worker=name, now=now, lease_seconds=lease
        )
        if job is None:
            # any worker may sweep lapsed leases (the runtime's store does it on a timer)
            jobs_sql.requeue_expired(conn, now=now, backoff=0.0)
            counts = jobs_sql.count_jobs(conn)
            if counts["pending"] == 0 and counts["processing"] == 0:
                return
            time.sleep(0.02)
            continue
        if mode == "hold":
            print(f"claimed {job['job_id']}", flush=True)
            time.sleep(3600)
        jobs_sql.complete_job(
            conn, job["job_id"], now=time.time(), worker=name, result={"worker": name}
        )
        print(job["job_id"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
