"""What bench_launch.py measures of a process: memory, CPU time, and instructions to launch,
counted by valgrind (callgrind): the figure that does not move with the machine's load.

A process runs under callgrind until its control socket accepts a connection; then
``callgrind_control --dump`` writes the count so far and the process is stopped (its
shutdown is not counted). A floor (``python -c CODE``) is counted to its exit. One run each
is enough: a count repeats within about 0.1 %.
"""

from __future__ import annotations

import os
import resource
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SETTLE = 1.0  # seconds between ready and a memory reading
#: a process under callgrind starts 30-50 times slower
TIMEOUT = 600.0


def counted(out: Path) -> int:
    """The instruction count in a callgrind output file."""
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"{out}: no instruction count")


def to_ready(
    argv: list[str],
    cwd: Path,
    env: dict[str, str],
    out: Path,
    wait_ready: Callable[[subprocess.Popen[bytes], float], None],
) -> int:
    """Instructions from the start of ``argv`` to its readiness (``wait_ready`` returns)."""
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(proc, TIMEOUT)
        subprocess.run(
            ["callgrind_control", "--dump", str(proc.pid)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return counted(Path(f"{out}.1"))  # the first dump; the whole run is in ``out``


def to_exit(python: str, code: str, env: dict[str, str], out: Path) -> int:
    """Instructions of ``python -c code`` from start to exit."""
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", python, "-c", code],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    return counted(out)


def available() -> bool:
    return all(
        any(os.access(os.path.join(d, tool), os.X_OK) for d in os.get_exec_path())
        for tool in ("valgrind", "callgrind_control")
    )


def memory(pid: int) -> dict[str, int]:
    """RSS, PSS and anonymous memory of a process, in KiB."""
    found = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Rss", "Pss", "Anonymous"):
                found[key] = int(rest.split()[0])
    return found


def cpu_ms(pid: int) -> float:
    """CPU time a process has used so far (all its threads), in ms."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])  # nanoseconds on a CPU
    return total / 1e6


def run_to_exit(python: str, code: str, env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, check=True)
    elapsed = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu * 1000


def floor_memory(python: str, code: str, env: dict[str, str]) -> dict[str, int]:
    """Memory of an interpreter that ran ``code`` and then waits."""
    proc = subprocess.Popen(
        [python, "-c", f"{code}\nimport sys\nprint('ready', flush=True)\nsys.stdin.read()"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        time.sleep(SETTLE)
        return memory(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def median_memory(samples: list[dict[str, int]], key: str) -> float:
    return statistics.median(s[key] for s in samples) / 1024
