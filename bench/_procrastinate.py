"""Procrastinate, the PostgreSQL job queue users would pick, draining the same no-op jobs.

Procrastinate (from PyPI) is installed by :func:`ensure_venv` into
``bench/.procrastinate-venv`` (git-ignored by the ``.gitignore`` written inside it), never
into the project's environment. :func:`procrastinate_drain` applies its schema to a fresh
database, defers ``n`` no-op jobs (an ``async`` task that does nothing) in batches, runs
``processes`` worker processes of ``concurrency`` jobs each until the queue is empty, and
reads the rate from Procrastinate's own event rows: from the first job's start to the last
job's success, as the runtime's job rows are read.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".procrastinate-venv"
PACKAGES = ("procrastinate==3.10.0", "psycopg[binary]==3.3.9")

TASKS = """\
from procrastinate import App, PsycopgConnector

app = App(connector=PsycopgConnector(conninfo={url!r}))


@app.task(name="noop", queue="bench")
async def noop():
    return None
"""

DEFER = """\
import sys
sys.path.insert(0, {folder!r})
from tasks import app, noop
with app.open():
    app.schema_manager.apply_schema()
    for start in range(0, {n}, 1000):
        noop.batch_defer(*[{{}}] * min(1000, {n} - start))
"""

WORKER = """\
import logging, sys
sys.path.insert(0, {folder!r})
logging.basicConfig(level=logging.WARNING)
from tasks import app
app.run_worker(queues=["bench"], concurrency={concurrency}, wait=False)
"""

RATE = """\
SELECT count(*) FILTER (WHERE type = 'succeeded') AS done,
       extract(epoch FROM max(at) FILTER (WHERE type = 'succeeded')
                      - min(at) FILTER (WHERE type = 'started')) AS seconds
FROM procrastinate_events
"""


def ensure_venv() -> Path:
    """Create bench/.procrastinate-venv with Procrastinate (once); its python."""
    marker = VENV / (".installed-" + "-".join(PACKAGES))
    if not marker.exists():
        print(f"installing {', '.join(PACKAGES)} into {VENV} ...", flush=True)
        if not (VENV / "bin" / "python").exists():
            # the system's python3: nothing of this project is installed there
            subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
        (VENV / ".gitignore").write_text("*\n")
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--quiet"]
        subprocess.run([*pip, *PACKAGES], check=True)
        marker.touch()
    return VENV / "bin" / "python"


def procrastinate_version() -> str:
    python = ensure_venv()
    return subprocess.run(
        [str(python), "-c", "import procrastinate; print(procrastinate.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def procrastinate_drain(url: str, folder: Path, n: int, processes: int, concurrency: int) -> float:
    """Jobs per second of ``processes`` Procrastinate workers (``concurrency`` each)
    draining ``n`` no-op jobs from the database at ``url``."""
    import psycopg

    python = str(ensure_venv())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tasks.py").write_text(TASKS.format(url=url))
    subprocess.run([python, "-c", DEFER.format(folder=str(folder), n=n)], check=True)
    script = WORKER.format(folder=str(folder), concurrency=concurrency)
    workers = [subprocess.Popen([python, "-c", script]) for _ in range(processes)]
    for worker in workers:
        if worker.wait(timeout=900) != 0:
            raise SystemExit(f"a Procrastinate worker failed (exit {worker.returncode})")
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(RATE).fetchone()
    assert row is not None
    done, seconds = int(row[0]), float(row[1] or 0.0)
    if done != n:
        raise SystemExit(f"Procrastinate completed {done} of {n} jobs")
    return n / seconds
