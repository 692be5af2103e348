"""The job queue users would pick instead: huey's SQLite consumer, in its own environment.

huey (from PyPI) is installed by :func:`ensure_peers_venv` into ``bench/.peers-venv``
(git-ignored), never into the project's environment; py-spy, the sampling profiler the
drain bench uses, goes there too. :func:`huey_drain` enqueues ``n`` no-op tasks into a
``SqliteHuey`` file and runs ``huey_consumer`` with one worker until the queue is empty.
The first and the last task write the wall-clock instant they ran (``time.time()``, as the
runtime's job rows are stamped), so the figure is the drain alone, without the consumer's
start-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PEERS_VENV = BENCH / ".peers-venv"
PEERS = ("huey==3.5.4", "py-spy==0.4.3")

TASKS = """\
import time
from huey import SqliteHuey

huey = SqliteHuey(filename={db!r}, results=False)


@huey.task()
def noop(i, last):
    if i == 0 or i == last:
        with open({stamps!r}, "a") as f:
            f.write(f"{{i}} {{time.time()!r}}\\n")
"""

ENQUEUE = """\
import sys
sys.path.insert(0, {folder!r})
from tasks import huey, noop
for i in range({n}):
    noop(i, {n} - 1)
print(huey.pending_count())
"""


def ensure_peers_venv() -> Path:
    """Create bench/.peers-venv with huey and py-spy (once); its bin folder."""
    marker = PEERS_VENV / (".installed-" + "-".join(PEERS))
    if not marker.exists():
        print(f"installing {', '.join(PEERS)} into {PEERS_VENV} ...", flush=True)
        if not (PEERS_VENV / "bin" / "python").exists():
            # the system's python3: nothing of this project is installed there
            subprocess.run(["python3", "-m", "venv", str(PEERS_VENV)], check=True)
        # git ignores the whole environment (a .gitignore inside it, as newer venvs write)
        (PEERS_VENV / ".gitignore").write_text("*\n")
        pip = [str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--quiet"]
        subprocess.run([*pip, *PEERS], check=True)
        marker.touch()
    return PEERS_VENV / "bin"


def huey_drain(folder: Path, n: int) -> float:
    """Jobs per second of one huey SQLite consumer (one worker thread) draining ``n`` no-op
    tasks: from the first task's start to the last task's."""
    bin_dir = ensure_peers_venv()
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "huey.db"
    stamps = folder / "stamps.txt"
    for path in (db, stamps):
        path.unlink(missing_ok=True)
    (folder / "tasks.py").write_text(TASKS.format(db=str(db), stamps=str(stamps)))
    python = str(bin_dir / "python")
    queued = subprocess.run(
        [python, "-c", ENQUEUE.format(folder=str(folder), n=n)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if queued != str(n):
        raise RuntimeError(f"huey: {queued} tasks queued, expected {n}")
    log = open(folder / "consumer.log", "w")  # noqa: SIM115 -- closed below
    consumer = subprocess.Popen(
        [str(bin_dir / "huey_consumer"), "tasks.huey", "--workers", "1", "--quiet"],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )
    try:
        deadline = time.monotonic() + 300
        while len(_stamps(stamps)) < 2:
            if time.monotonic() > deadline or consumer.poll() is not None:
                raise RuntimeError(f"huey did not drain {n} tasks; see {folder}/consumer.log")
            time.sleep(0.02)
    finally:
        consumer.send_signal(signal.SIGINT)
        try:
            consumer.wait(10)
        except subprocess.TimeoutExpired:
            consumer.kill()
            consumer.wait()
        log.close()
    times = _stamps(stamps)
    return n / (times[n - 1] - times[0])


def _stamps(path: Path) -> dict[int, float]:
    if not path.exists():
        return {}
    out: dict[int, float] = {}
    for line in path.read_text().splitlines():
        index, stamp = line.split()
        out[int(index)] = float(stamp)
    return out
