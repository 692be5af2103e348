"""Launch time and idle memory of one ``statemachine CONFIG`` process (issue 17): this
project's, with a cold and a warm start cache, beside the published package
(statemachine-engine==1.0.91) and the floors, in the same run.

Run: .venv/bin/python bench/bench_launch.py [--runs N] [--no-upstream] [--instructions]

* launch -- from the spawn of ``statemachine CONFIG`` to its control socket accepting a
  connection (this project: a stream socket; the published package: a datagram socket
  that is bound), and the CPU time the process used until then (all its threads, from
  /proc/PID/task/*/schedstat: a figure that moves less with the machine's load). Ours
  twice: *cold* (a fresh, empty ``$XDG_CACHE_HOME``: the YAML is parsed and checked) and
  *warm* (the start cache holds the unchanged configuration).
* floors -- ``python -c pass``, ``python -c 'import trio'`` and the third-party and standard
  modules the start needs (trio, sqlite3, argparse, json, logging), run to exit (CPU time
  from the children's rusage).
* idle memory -- 1 s after the control socket is ready, from /proc/PID/smaps_rollup: RSS,
  PSS and the anonymous (private) memory, the figure that does not count the shared
  libraries; the floors' the same way (the interpreter kept alive after the imports).
* import profile -- ``python -X importtime`` of one warm start, self time summed by
  top-level module: where the launch goes.
* instructions (``--instructions``, needs valgrind) -- each variant once under callgrind,
  counted to ready (floors: to exit); a count does not move with the load
  (bench/_launch_measures.py).

Every round runs each variant once, in turn, so that all see the same machine load (other
work on a 2-core machine moves every figure); the first round is a warm-up (it compiles
the modules) and is not counted. Medians are printed, with the ratios to the published
package and ``uptime``'s load before and after.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _launch_measures as measure
from _launch_measures import SETTLE, cpu_ms, floor_memory, median_memory, memory, run_to_exit
from _process_harness import OUR_BIN, UPSTREAM_PREFIX, UPSTREAM_VERSION, ensure_upstream_venv

FLIP_YAML = """\
metadata: {name: Flip}
initial_state: a
states: [a, b, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
"""
#: the modules other than this project's that ``statemachine CONFIG`` imports
START_IMPORTS = "import trio, sqlite3, argparse, json, logging"


class Variant:
    """One way of launching: its argv, its control socket, its environment, and the folder
    it runs in (None: a fresh one each time, as the published package keeps its database in
    ``./data``; ours is given ``--db``, and runs from one folder, as a user's would: the
    start cache is per working folder)."""

    def __init__(
        self,
        label: str,
        argv: Callable[[str, Path], list[str]],
        socket_path: Callable[[str, Path], str],
        kind: int,
        env: Callable[[Path], dict[str, str]],
        cwd: Path | None = None,
    ) -> None:
        self.label = label
        self.argv = argv
        self.socket_path = socket_path
        self.kind = kind
        self.env = env
        self.cwd = cwd
        self.times: list[float] = []
        self.cpu: list[float] = []
        self.memory: list[dict[str, int]] = []


def base_env(pycache: Path) -> dict[str, str]:
    """Compiled modules kept (as an installed package has them), in a private folder."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def wait_connectable(path: str, kind: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, kind)
        try:
            sock.connect(path)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before it was ready") from None
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{path} not ready after {timeout:g} s") from None
            time.sleep(0.001)
        finally:
            sock.close()


def launch(variant: Variant, work: Path, name: str) -> tuple[float, float, dict[str, int]]:
    """Milliseconds from spawn to a connectable control socket, the CPU time the process
    used until then, and its memory once settled."""
    cwd = work / name
    cwd.mkdir(parents=True)
    path = variant.socket_path(name, cwd)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        variant.argv(name, cwd),
        cwd=variant.cwd or cwd,
        env=variant.env(cwd),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_connectable(path, variant.kind, proc, 60)
        elapsed = (time.perf_counter() - t0) * 1000
        cpu = cpu_ms(proc.pid)
        time.sleep(SETTLE)
        return elapsed, cpu, memory(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if os.path.exists(path):  # the published package leaves its socket behind
            os.unlink(path)


def count_launch(variant: Variant, work: Path, name: str) -> int:
    """Instructions from spawn to a connectable control socket (callgrind)."""
    cwd = work / name
    cwd.mkdir(parents=True)
    path = variant.socket_path(name, cwd)

    def ready(proc: subprocess.Popen[bytes], timeout: float) -> None:
        wait_connectable(path, variant.kind, proc, timeout)

    try:
        argv, env = variant.argv(name, cwd), variant.env(cwd)
        return measure.to_ready(argv, variant.cwd or cwd, env, work / f"cg.{name}", ready)
    finally:
        if os.path.exists(path):
            os.unlink(path)


def import_profile(
    config: Path, work: Path, cwd: Path, env: dict[str, str]
) -> list[tuple[str, float]]:
    """Self import time of one warm start, summed by top-level module, in ms."""
    prefix = str(work / "p")
    argv = [sys.executable, "-X", "importtime", "-m", "statemachine_engine.cli", str(config)]
    argv += ["--db", str(work / "profile.db"), "--control-socket-prefix", prefix]
    argv += ["--event-socket-path", str(work / "no-monitor.sock"), "--machine-name", "profile"]
    log = work / "importtime.txt"
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_connectable(f"{prefix}-profile.sock", socket.SOCK_STREAM, proc, 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    by_top: collections.Counter[str] = collections.Counter()
    for line in log.read_text().splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _, module = (part.strip() for part in line.replace("|", ":").split(":"))
        by_top[module.split(".")[0]] += int(self_us) / 1000
    return by_top.most_common()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11, help="counted rounds (default 11)")
    parser.add_argument("--no-upstream", action="store_true", help="skip the published package")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count the instructions to launch under valgrind (one run each, minutes)",
    )
    parser.add_argument("--quick", action="store_true", help="3 counted rounds (make bench)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 3
    if args.instructions and not measure.available():
        parser.error("--instructions needs valgrind and callgrind_control on PATH")
    upstream_python = None if args.no_upstream else ensure_upstream_venv()
    work = Path(tempfile.mkdtemp(prefix="smlaunch", dir="/tmp"))
    pycache = work / "pycache"
    config = work / "flip.yaml"
    config.write_text(FLIP_YAML)
    warm_cache = work / "warm-cache"
    cold_caches = iter(range(10**6))
    print(f"load before: {os.getloadavg()} ({os.cpu_count()} cores); work dir {work}", flush=True)

    def ours_argv(name: str, cwd: Path) -> list[str]:
        return [
            str(OUR_BIN / "statemachine"),
            str(config),
            "--machine-name",
            name,
            "--db",
            str(cwd / "bench.db"),
            "--control-socket-prefix",
            str(work / "c"),
            "--event-socket-path",
            str(work / "no-monitor.sock"),
        ]

    def ours_socket(name: str, cwd: Path) -> str:
        return f"{work / 'c'}-{name}.sock"

    def cold_env(cwd: Path) -> dict[str, str]:
        return {**base_env(pycache), "XDG_CACHE_HOME": str(work / f"cold{next(cold_caches)}")}

    def warm_env(cwd: Path) -> dict[str, str]:
        return {**base_env(pycache), "XDG_CACHE_HOME": str(warm_cache)}

    here = work / "ours"
    here.mkdir()
    variants = [
        Variant(
            "trio edition, cold cache", ours_argv, ours_socket, socket.SOCK_STREAM, cold_env, here
        ),
        Variant(
            "trio edition, warm cache", ours_argv, ours_socket, socket.SOCK_STREAM, warm_env, here
        ),
    ]
    if upstream_python is not None:
        upstream_bin = upstream_python.parent

        def upstream_argv(name: str, cwd: Path) -> list[str]:
            return [
                str(upstream_bin / "statemachine"),
                str(config),
                "--machine-name",
                name,
                "--event-socket-path",
                str(work / "no-monitor.sock"),
            ]

        def upstream_socket(name: str, cwd: Path) -> str:
            return f"{UPSTREAM_PREFIX}-{name}.sock"

        variants.append(
            Variant(
                f"published {UPSTREAM_VERSION}",
                upstream_argv,
                upstream_socket,
                socket.SOCK_DGRAM,
                lambda cwd: base_env(pycache),
            )
        )
    floors: dict[str, tuple[str, str]] = {
        "python -c pass": (sys.executable, "pass"),
        "python -c 'import trio'": (sys.executable, "import trio"),
        f"python -c '{START_IMPORTS}'": (sys.executable, START_IMPORTS),
    }
    if upstream_python is not None:
        floors["published's python -c 'import asyncio, sqlite3, yaml'"] = (
            str(upstream_python),
            "import asyncio, sqlite3, yaml",
        )
    floor_times: dict[str, list[float]] = {label: [] for label in floors}
    floor_cpu: dict[str, list[float]] = {label: [] for label in floors}

    try:
        for round_no in range(args.runs + 1):
            for i, variant in enumerate(variants):
                elapsed, cpu, mem = launch(variant, work, f"r{round_no}v{i}x{os.getpid()}")
                if round_no > 0:
                    variant.times.append(elapsed)
                    variant.cpu.append(cpu)
                    variant.memory.append(mem)
            for label, (python, code) in floors.items():
                elapsed, cpu = run_to_exit(python, code, base_env(pycache))
                if round_no > 0:
                    floor_times[label].append(elapsed)
                    floor_cpu[label].append(cpu)
            print(f"  round {round_no}/{args.runs} done", flush=True)
        floor_mem = {
            label: [floor_memory(python, code, base_env(pycache)) for _ in range(3)]
            for label, (python, code) in floors.items()
        }
        profile = import_profile(config, work, here, warm_env(work))
        counts: dict[str, int] = {}
        if args.instructions:
            for i, variant in enumerate(variants):
                counts[variant.label] = count_launch(variant, work, f"cg{i}x{os.getpid()}")
            for i, (label, (python, code)) in enumerate(floors.items()):
                out = work / f"cg.floor{i}"
                counts[f"floor: {label}"] = measure.to_exit(python, code, base_env(pycache), out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(variants, floor_times, floor_cpu, floor_mem, profile, counts, args.runs)


def report(
    variants: list[Variant],
    floor_times: dict[str, list[float]],
    floor_cpu: dict[str, list[float]],
    floor_mem: dict[str, list[dict[str, int]]],
    profile: list[tuple[str, float]],
    counts: dict[str, int],
    runs: int,
) -> None:
    upstream = next((v for v in variants if v.label.startswith("published")), None)
    base = (
        (
            statistics.median(upstream.times),
            statistics.median(upstream.cpu),
            median_memory(upstream.memory, "Anonymous"),
        )
        if upstream
        else None
    )
    print(f"\nload after: {os.getloadavg()}; medians of {runs} rounds\n")
    print(
        "| launched | spawn -> control socket ready (min-max) | CPU used until then | "
        "vs published (wall / CPU) | idle RSS | PSS | anonymous | vs published |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rows = [(v.label, v.times, v.cpu, v.memory) for v in variants]
    rows += [
        (f"floor: {label}", floor_times[label], floor_cpu[label], floor_mem[label])
        for label in floor_times
    ]
    for label, times, cpu, mem in rows:
        wall, used, anon = (
            statistics.median(times),
            statistics.median(cpu),
            median_memory(mem, "Anonymous"),
        )
        ratio = f"{wall / base[0]:.2f}x / {used / base[1]:.2f}x" if base else "-"
        mem_ratio = f"{anon / base[2]:.2f}x" if base else "-"
        print(
            f"| {label} | {wall:.0f} ms ({min(times):.0f}-{max(times):.0f}) | {used:.0f} ms | "
            f"{ratio} | {median_memory(mem, 'Rss'):.1f} MiB | "
            f"{median_memory(mem, 'Pss'):.1f} MiB | {anon:.1f} MiB | {mem_ratio} |"
        )
    if counts:
        up = next((n for label, n in counts.items() if label.startswith("published")), None)
        print("\n| launched | instructions to ready (callgrind) | vs published |\n|---|---|---|")
        for label, n in counts.items():
            print(f"| {label} | {n / 1e6:,.0f} M | {f'{n / up:.2f}x' if up else '-'} |")
    total = sum(ms for _, ms in profile)
    print(
        f"\nimport profile of a warm start (-X importtime, self time by top-level module; "
        f"{total:.0f} ms in all, inflated by the measurement):"
    )
    for module, ms in profile[:15]:
        print(f"  {module:<28} {ms:6.1f} ms")


if __name__ == "__main__":
    main()
