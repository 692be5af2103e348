"""Job drain as users run it (issue 17): one ``statemachine`` worker process draining a
queue of no-op jobs while a monitor reads every event, beside huey's SQLite consumer and the
published package 1.0.91, in the same run.

Run: .venv/bin/python bench/bench_drain.py [--quick] [--jobs N] [--runs R] [--no-upstream]
     [--only FIGURE ...] [--profile DIR]

Each figure is jobs per second from the first job's start to the last job's completion, as
the job rows (ours) or the tasks themselves (huey) stamp them, so process start-up is left
out; the median of ``--runs`` runs, the figures' runs interleaved. Our workers run with
compiled modules in a folder of the run's own (``PYTHONPYCACHEPREFIX``), filled by an
untimed warm-up drain first, as an installed package has them whatever the caller's
environment says (``PYTHONDONTWRITEBYTECODE``). FIGURE:

* ``reader``  -- ``statemachine worker.yaml`` with this process reading every event from
  the event socket (as ``statemachine-ui`` and ``statemachine-events`` do); the run checks
  that every ``job_started`` and ``job_completed`` arrived;
* ``ui``      -- the same with a real ``statemachine-ui`` on the event socket instead;
* ``quiet``   -- the same worker with nobody listening on the event socket;
* ``durable-reader`` / ``durable-quiet`` -- the worker with ``durable: true`` (its state,
  context and step checkpointed at every step);
* ``huey``    -- huey's SQLite consumer, one worker, the same number of no-op tasks
  (bench/_peers.py installs huey into bench/.peers-venv);
* ``published`` -- the published package's worker (``--no-upstream`` skips it), with fewer
  jobs: it polls its queue and drains about ten a second.

``--profile DIR`` runs ``py-spy`` (from bench/.peers-venv) on the worker process (and the
``statemachine-ui`` process) of one extra run of each of our figures and writes their
collected stacks to DIR (``FIGURE-worker.txt``, ``ui-ui.txt``), which
``bench/_profile_summary.py`` summarises.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _drain_runs import OURS_FIGURES, DrainRun, published_drain
from _peers import huey_drain
from _process_harness import UPSTREAM_VERSION, ensure_upstream_venv

FIGURES = (*OURS_FIGURES, "huey", "published")
#: jobs of the untimed drain that compiles the worker's modules before the timed runs
WARM_UP_JOBS = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs of 2,000 jobs")
    parser.add_argument("--jobs", type=int, default=2000, help="jobs to drain (default 2,000)")
    parser.add_argument("--runs", type=int, help="runs per figure (default 5, 3 with --quick)")
    parser.add_argument("--no-upstream", action="store_true", help="skip the published package")
    parser.add_argument("--only", nargs="+", choices=FIGURES, help="these figures")
    parser.add_argument("--profile", type=Path, help="also profile a reader and a ui run here")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    figures = [f for f in args.only or FIGURES if not (args.no_upstream and f == "published")]
    root = Path(tempfile.mkdtemp(prefix="smdrain", dir="/tmp"))
    print(
        f"{datetime.date.today()} python {sys.version.split()[0]}, {os.cpu_count()} cores, "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.jobs} jobs, "
        f"{runs} runs; work dir {root}",
        flush=True,
    )
    upstream = ensure_upstream_venv() if "published" in figures else None
    pycache = root / "pycache"
    if any(figure in OURS_FIGURES for figure in figures):
        warm = trio.run(DrainRun(root / "warm-up", "reader", WARM_UP_JOBS, pycache).measure)
        print(f"  warm-up: {WARM_UP_JOBS} jobs at {warm:,.0f} jobs/s (not counted)", flush=True)
    measures: dict[str, Callable[[Path], float]] = {}
    for figure in figures:
        if figure in OURS_FIGURES:
            measures[figure] = lambda folder, f=figure: ours(folder, f, args.jobs, pycache)
        elif figure == "huey":
            measures[figure] = lambda folder: huey_drain(folder, args.jobs)
        elif upstream is not None:
            measures[figure] = lambda folder: published_drain(folder, upstream, 30)
    samples: dict[str, list[float]] = {figure: [] for figure in measures}
    try:
        for run in range(runs):
            for figure, measure in measures.items():
                rate = measure(root / f"{figure}-{run}")
                samples[figure].append(rate)
                print(f"  run {run + 1}  {figure:<15} {rate:8,.0f} jobs/s", flush=True)
        if args.profile:
            ours_figures = [f for f in figures if f in OURS_FIGURES]
            profile(args.profile, root, args.jobs, ours_figures, pycache)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\nload after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(table(samples))


def ours(folder: Path, figure: str, jobs: int, pycache: Path) -> float:
    run = DrainRun(folder, figure, jobs, pycache)
    rate = trio.run(run.measure)
    print(
        f"         CPU: worker {run.worker_cpu:.2f} s (start-up included), "
        f"this process {run.reader_cpu:.2f} s",
        flush=True,
    )
    return rate


LABELS = {
    "reader": "trio edition, a reader of every event",
    "ui": "trio edition, statemachine-ui attached",
    "quiet": "trio edition, nobody listening",
    "durable-reader": "trio edition, `durable: true`, a reader of every event",
    "durable-quiet": "trio edition, `durable: true`, nobody listening",
    "huey": "huey 3.5.4 SqliteHuey consumer, 1 worker",
    "published": f"published {UPSTREAM_VERSION}, its event socket read (30 jobs)",
}


def table(samples: dict[str, list[float]]) -> str:
    huey = statistics.median(samples["huey"]) if samples.get("huey") else None
    lines = ["| one worker process draining no-op jobs | jobs/s, median (runs) | vs huey |"]
    lines.append("|---|---|---|")
    for figure, values in samples.items():
        median = statistics.median(values)
        runs = " / ".join(f"{v:,.0f}" for v in values)
        ratio = f"{median / huey:.2f}x" if huey else "-"
        lines.append(f"| {LABELS[figure]} | **{median:,.0f}** ({runs}) | {ratio} |")
    return "\n".join(lines)


def profile(out: Path, root: Path, jobs: int, figures: list[str], pycache: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        run = DrainRun(root / f"profile-{figure}", figure, jobs, pycache, profile_to=out)
        rate = trio.run(run.measure)
        print(f"  profiled {figure}: {rate:,.0f} jobs/s under py-spy; output in {out}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
