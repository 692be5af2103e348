"""Running ``statemachine`` processes for benchmarks: this project's or the published one's.

Both implementations are driven the same way: start a process, send it events on its
control socket, observe its machine events on an event socket this process binds, stop it.
What differs is hidden behind :class:`Impl`:

* this project: stream sockets (JSON lines, acknowledged), ``--db``, ``--log-level``;
* the published package (``statemachine-engine==1.0.91``, in its own virtual environment
  under ``bench/.upstream-venv``): datagram sockets, no acknowledgement, and its database is
  always ``./data/pipeline.db`` in the working directory, so each run gets a fresh one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.transport import ControlConnection, EventListener, MachineEvent

BENCH = Path(__file__).resolve().parent
OUR_BIN = Path(sys.executable).parent
UPSTREAM_VENV = BENCH / ".upstream-venv"
UPSTREAM_VERSION = "1.0.91"
UPSTREAM_PREFIX = "/tmp/statemachine-control"  # its send_event ignores --control-socket-prefix


def ensure_upstream_venv() -> Path:
    """Create bench/.upstream-venv with the published package (once); its python."""
    python = UPSTREAM_VENV / "bin" / "python"
    marker = UPSTREAM_VENV / f".installed-{UPSTREAM_VERSION}"
    if marker.exists():
        return python
    print(f"installing statemachine-engine=={UPSTREAM_VERSION} into {UPSTREAM_VENV} ...")
    # the system's python3, not this project's environment: nothing of ours is installed there
    subprocess.run(["python3", "-m", "venv", str(UPSTREAM_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--quiet",  # twice: no warnings about this machine's pip configuration
            f"statemachine-engine=={UPSTREAM_VERSION}",
        ],
        check=True,
    )
    marker.touch()
    return python


# -- observing machine events ---------------------------------------------------------------


class Observer:
    """Machine events (as dicts) with the ``perf_counter`` instant each arrived here."""

    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self._changed = trio.Event()

    def add(self, data: dict[str, Any]) -> None:
        self.events.append((time.perf_counter(), data))
        self.counts[(data.get("machine_name", ""), data.get("type", ""))] += 1
        self._changed.set()
        self._changed = trio.Event()

    def count(self, machine: str, kind: str) -> int:
        return self.counts[(machine, kind)]

    async def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> float:
        """Wait until ``predicate()``; the perf_counter instant it became true."""
        with trio.move_on_after(timeout):
            while not predicate():
                await self._changed.wait()
            return self.events[-1][0] if self.events else time.perf_counter()
        raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")

    async def wait_count(self, machine: str, kind: str, n: int, timeout: float) -> float:
        return await self.wait(
            lambda: self.count(machine, kind) >= n, timeout, f"{n} {kind} of {machine}"
        )

    def find(self, machine: str, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [
            (t, e) for t, e in self.events if e.get("machine_name") == machine and e["type"] == kind
        ]


async def _listen_stream(observer: Observer, path: str, task_status: Any) -> None:
    async def handle(event: MachineEvent) -> None:
        observer.add(event.to_dict())

    await EventListener(handle, path).run(task_status=task_status)


async def _listen_datagram(observer: Observer, path: str, task_status: Any) -> None:
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    try:
        await sock.bind(path)
        # a deeper receive buffer: the published runtimes drop what they cannot send at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        task_status.started()
        while True:
            data = await sock.recv(65536)
            with contextlib.suppress(ValueError):
                observer.add(json.loads(data))
    finally:
        sock.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


# -- senders ------------------------------------------------------------------------------------


class StreamSender:
    """This project's control socket: one persistent, acknowledged connection."""

    def __init__(self, path: str) -> None:
        self.conn = ControlConnection(path)

    async def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        await self.conn.send({"type": kind, "payload": payload or {}})

    async def send_many(self, kinds: Iterable[str]) -> None:
        await self.conn.send_many({"type": kind} for kind in kinds)

    async def aclose(self) -> None:
        await self.conn.aclose()


class DatagramSender:
    """The published package's control socket: datagrams, no acknowledgement. A full
    receive queue (10 datagrams by default) makes the send wait, as a blocking client's
    would."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.sock: Any = None

    async def _socket(self) -> Any:
        if self.sock is None:
            self.sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            await self.sock.connect(self.path)
        return self.sock

    async def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        sock = await self._socket()
        await sock.send(json.dumps({"type": kind, "payload": payload or {}}).encode())

    async def send_many(self, kinds: Iterable[str]) -> None:
        for kind in kinds:
            await self.send(kind)

    async def aclose(self) -> None:
        if self.sock is not None:
            self.sock.close()
        await trio.lowlevel.checkpoint()


def write(folder: Path, name: str, text: str) -> Path:
    """Write a scenario's file (a config, a manifest) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


# -- processes ------------------------------------------------------------------------------


class Proc:
    def __init__(self, name: str, process: trio.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait(self, timeout: float) -> int | None:
        with trio.move_on_after(timeout):
            return await self.process.wait()
        return None

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process in KiB."""
    rss = pss = 0
    with contextlib.suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


class Impl:
    """One implementation under test, with a private work directory for one scenario."""

    label: str
    datagram: bool

    def __init__(self, work: Path) -> None:
        self.work = work
        self.sock_dir = Path(tempfile.mkdtemp(prefix="smb", dir="/tmp"))
        self.event_socket = str(self.sock_dir / "e.sock")
        self.observer = Observer()
        self.procs: list[Proc] = []
        self._names = 0

    def unique(self, base: str) -> str:
        self._names += 1
        return f"{base}{os.getpid()}x{self._names}"

    # implementation-specific ------------------------------------------------------------
    def argv(self, config: Path, name: str, cwd: Path) -> list[str]:
        raise NotImplementedError

    def control_path(self, name: str) -> str:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def db_of(self, cwd: Path) -> Path:
        raise NotImplementedError

    def sender(self, name: str) -> StreamSender | DatagramSender:
        raise NotImplementedError

    async def listen(self, nursery: trio.Nursery) -> None:
        raise NotImplementedError

    # common -----------------------------------------------------------------------------
    async def spawn(self, argv: list[str], cwd: Path, label: str) -> Proc:
        cwd.mkdir(parents=True, exist_ok=True)
        log = cwd / f"{label}.log"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            process = await trio.lowlevel.open_process(
                argv, cwd=str(cwd), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, env=self.env()
            )
        finally:
            os.close(fd)
        proc = Proc(label, process, log)
        self.procs.append(proc)
        return proc

    async def start(self, config: Path, name: str, cwd: Path | None = None) -> Proc:
        cwd = cwd or self.work
        return await self.spawn(self.argv(config, name, cwd), cwd, name)

    async def start_ready(self, config: Path, name: str, cwd: Path | None = None) -> Proc:
        mark = self.observer.count(name, "machine_registered")
        proc = await self.start(config, name, cwd)
        try:
            await self.observer.wait_count(name, "machine_registered", mark + 1, 30)
        except TimeoutError:
            raise TimeoutError(f"{name} did not start; see {proc.log}") from None
        return proc

    async def stop(self, name: str, proc: Proc) -> None:
        sender = self.sender(name)
        try:
            await sender.send("stop")
        except OSError:  # already gone (TransportError is an OSError too)
            pass
        finally:
            await sender.aclose()
        if await proc.wait(10) is None:
            proc.kill()
            await proc.wait(5)

    def cleanup(self) -> None:
        for proc in self.procs:
            proc.kill()
        shutil.rmtree(self.sock_dir, ignore_errors=True)


class Ours(Impl):
    label = "trio edition"
    datagram = False

    def __init__(self, work: Path, pycache: Path | None) -> None:
        super().__init__(work)
        self.prefix = str(self.sock_dir / "c")
        self.pycache = pycache

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.pycache is not None:
            # compiled modules, as an installed package has them
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        return env

    def db_of(self, cwd: Path) -> Path:
        return cwd / "bench.db"

    def common(self, cwd: Path) -> list[str]:
        return [
            "--db",
            str(self.db_of(cwd)),
            "--control-socket-prefix",
            self.prefix,
            "--event-socket-path",
            self.event_socket,
        ]

    def argv(self, config: Path, name: str, cwd: Path) -> list[str]:
        return [
            str(OUR_BIN / "statemachine"),
            str(config),
            "--machine-name",
            name,
            *self.common(cwd),
        ]

    def control_path(self, name: str) -> str:
        return f"{self.prefix}-{name}.sock"

    def sender(self, name: str) -> StreamSender:
        return StreamSender(self.control_path(name))

    async def listen(self, nursery: trio.Nursery) -> None:
        await nursery.start(_listen_stream, self.observer, self.event_socket)


class Upstream(Impl):
    label = f"published {UPSTREAM_VERSION}"
    datagram = True

    def __init__(self, work: Path, python: Path) -> None:
        super().__init__(work)
        self.bin = python.parent

    def db_of(self, cwd: Path) -> Path:
        return cwd / "data" / "pipeline.db"

    def argv(self, config: Path, name: str, cwd: Path) -> list[str]:
        return [
            str(self.bin / "statemachine"),
            str(config),
            "--machine-name",
            name,
            "--event-socket-path",
            self.event_socket,
        ]

    def control_path(self, name: str) -> str:
        return f"{UPSTREAM_PREFIX}-{name}.sock"

    def sender(self, name: str) -> DatagramSender:
        return DatagramSender(self.control_path(name))

    async def listen(self, nursery: trio.Nursery) -> None:
        await nursery.start(_listen_datagram, self.observer, self.event_socket)

    def cleanup(self) -> None:
        super().cleanup()
        # a killed runtime of the published package leaves its socket file behind
        for proc in self.procs:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.control_path(proc.name))
