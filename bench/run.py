"""Run every benchmark in turn (``make bench``); figures go to stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "bench_core.py",
    "bench_embedded.py",
    "bench_store.py",
    "bench_transport.py",
    "bench_processes.py",
    "bench_drain.py",
    "bench_durable.py",
    "bench_monitor.py",
    "bench_instructions.py",
    "bench_load.py",
    "bench_launch.py",
    "bench_history.py",
    "bench_pg.py",
    "bench_hosts.py",
)


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        failed += (
            subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]]).returncode != 0
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
