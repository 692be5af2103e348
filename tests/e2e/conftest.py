"""Helpers for end-to-end tests with real ``statemachine`` processes.

* ``sock_dir`` -- a short private directory under /tmp for socket files (pytest's tmp_path
  can exceed the 107-byte limit of a Unix socket address).
* ``browser`` -- Debian's chromium under Playwright, one per test module (browser_support.py
  has the monitor that the UI tests run in a thread).
* ``cluster`` -- a :class:`Cluster`: one temporary database, one control-socket prefix and
  one event socket shared by every process it starts, with an :class:`EventLog` listening
  on that event socket, so tests observe the runtimes exactly as a monitor would.

Every wait is bounded (``trio.fail_after``) and waits on a real condition: an event on the
event socket, a process exit, a row in the database. Teardown kills, by process id, every
process a test started (and the process group it leads) that is still running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Browser

from statemachine_engine.transport import EventListener, MachineEvent

from .browser_support import launch_chromium

BIN = Path(sys.executable).parent
#: the console scripts, as a user runs them
STATEMACHINE = str(BIN / "statemachine")
STATEMACHINE_EVENTS = str(BIN / "statemachine-events")
STATEMACHINE_DB = str(BIN / "statemachine-db")
#: generous bound for a process to start (interpreter, imports, sockets) on a busy machine
START_TIMEOUT = 20.0
#: bound for anything that should happen promptly once a process runs
STEP_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch_chromium()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def matches(event: MachineEvent, machine: str | None, kind: str | None, **payload: Any) -> bool:
    """Whether ``event`` is of ``machine`` and ``kind`` (None: any) with these payload values."""
    if machine is not None and event.machine_name != machine:
        return False
    if kind is not None and event.type != kind:
        return False
    return all(event.payload.get(key) == value for key, value in payload.items())


class EventLog:
    """Every machine event received on the event socket, in arrival order."""

    def __init__(self) -> None:
        self.events: list[MachineEvent] = []
        self._changed = trio.Event()

    async def handle(self, event: MachineEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = trio.Event()

    def find(
        self, machine: str | None = None, kind: str | None = None, *, start: int = 0, **payload: Any
    ) -> list[MachineEvent]:
        return [e for e in self.events[start:] if matches(e, machine, kind, **payload)]

    def after(self, event: MachineEvent) -> int:
        """The index just past ``event``: a ``start`` for waiting on what follows it."""
        for index, seen in enumerate(self.events):
            if seen is event:
                return index + 1
        raise ValueError(f"{event} was not received")

    def transitions(self, machine: str) -> list[tuple[str, str, str]]:
        """``(from_state, event_trigger, to_state)`` of every state_change of ``machine``."""
        return [
            (e.payload["from_state"], e.payload["event_trigger"], e.payload["to_state"])
            for e in self.find(machine, "state_change")
        ]

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = STEP_TIMEOUT, what: str = ""
    ) -> None:
        """Wait until ``predicate()`` holds, re-checked on every new event."""
        try:
            with trio.fail_after(timeout):
                while not predicate():
                    await self._changed.wait()
        except trio.TooSlowError:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what or predicate}; "
                f"events so far: {[(e.machine_name, e.type, dict(e.payload)) for e in self.events]}"
            ) from None

    async def wait_for(
        self,
        machine: str | None = None,
        kind: str | None = None,
        *,
        start: int = 0,
        timeout: float = STEP_TIMEOUT,
        **payload: Any,
    ) -> MachineEvent:
        """The first event (from index ``start``) that matches; waits for it if needed."""
        found: list[MachineEvent] = []

        def seen() -> bool:
            found[:] = self.find(machine, kind, start=start, **payload)
            return bool(found)

        await self.wait_until(seen, timeout, f"{kind} of {machine} with {payload}")
        return found[0]

    async def wait_state(
        self, machine: str, state: str, *, start: int = 0, timeout: float = STEP_TIMEOUT
    ) -> MachineEvent:
        return await self.wait_for(
            machine, "state_change", start=start, timeout=timeout, to_state=state
        )


class RuntimeProcess:
    """A ``statemachine`` (or other console script) process started by a test."""

    def __init__(self, name: str, process: trio.Process, log: Path) -> None:
        self.name = name
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    async def wait(self, timeout: float = STEP_TIMEOUT) -> int:
        """The exit code; fails the test when the process does not exit in time."""
        try:
            with trio.fail_after(timeout):
                return await self.process.wait()
        except trio.TooSlowError:
            raise AssertionError(
                f"{self.name} (pid {self.pid}) still running after {timeout:g} s; "
                f"its output:\n{self.output()}"
            ) from None


class Cluster:
    """Runtimes of one test: shared database, socket prefix and event socket."""

    def __init__(self, root: Path, sock_dir: Path) -> None:
        self.root = root  # working directory of every process: configs, logs/, outputs
        self.sock_dir = sock_dir
        self.db = root / "data" / "pipeline.db"
        self.prefix = str(sock_dir / "c")
        self.event_socket = str(sock_dir / "e.sock")
        self.events = EventLog()
        self.processes: list[RuntimeProcess] = []
        self.extra_pids: list[int] = []  # processes started by our processes (children)

    def control_socket(self, machine: str) -> str:
        return f"{self.prefix}-{machine}.sock"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def common_args(self) -> list[str]:
        return [
            "--db",
            str(self.db),
            "--control-socket-prefix",
            self.prefix,
            "--event-socket-path",
            self.event_socket,
        ]

    async def spawn(self, argv: list[str], label: str) -> RuntimeProcess:
        """Start any command in ``root``, output to ``root/<label>.out``, own session."""
        log = self.root / f"{label}.out"
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            process = await trio.lowlevel.open_process(
                argv,
                cwd=str(self.root),
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                start_new_session=True,
            )
        finally:
            os.close(fd)
        started = RuntimeProcess(label, process, log)
        self.processes.append(started)
        return started

    async def start(
        self,
        config: Path | str,
        name: str,
        *args: str,
        ready: bool = True,
        timeout: float = START_TIMEOUT,
    ) -> RuntimeProcess:
        """Run ``statemachine CONFIG --machine-name NAME`` with the cluster's db and sockets.

        With ``ready``, return once the machine has published ``machine_registered`` (its
        control socket is listening by then) -- counted from the moment this call started,
        so a restart under the same name waits for its own announcement.
        """
        mark = len(self.events.events)
        argv = [STATEMACHINE, str(config), "--machine-name", name, *self.common_args(), *args]
        runtime = await self.spawn(argv, name if not self._started(name) else f"{name}.again")
        if ready:
            try:
                await self.events.wait_for(name, "machine_registered", start=mark, timeout=timeout)
            except AssertionError:
                raise AssertionError(
                    f"{name} did not register (exit code {runtime.returncode}); its output:\n"
                    f"{runtime.output()}"
                ) from None
        return runtime

    def _started(self, label: str) -> bool:
        return any(p.name == label for p in self.processes)

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """Read the shared database, as ``sqlite3`` would (no rows before a runtime made it)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # created, schema not committed yet
                return []
            raise
        finally:
            conn.close()

    def registry(self, machine: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM machine_state WHERE machine_name = ?", machine)
        return rows[0] if rows else None

    async def wait_db(
        self, what: str, check: Callable[[], Any], timeout: float = STEP_TIMEOUT
    ) -> Any:
        """Poll the database or the file system (another process's writes cannot wake us)
        until ``check()`` returns something true; a short pause between reads, bounded
        overall."""
        try:
            with trio.fail_after(timeout):
                while True:
                    result = await trio.to_thread.run_sync(check)
                    if result:
                        return result
                    await trio.sleep(0.02)
        except trio.TooSlowError:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None

    def kill_all(self) -> None:
        """Kill (by process id and process group) whatever a test left running: the
        processes it started, and the child processes those started (known by pid, or
        registered in this cluster's database and running with it on their command line)."""
        for runtime in self.processes:
            if runtime.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(runtime.pid, signal.SIGKILL)
        children = list(self.extra_pids)
        with contextlib.suppress(sqlite3.Error):
            children += [row["pid"] for row in self.query("SELECT pid FROM machine_state")]
        for pid in children:
            if isinstance(pid, int) and pid_alive(pid) and self._ours(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def _ours(self, pid: int) -> bool:
        """A process of this cluster: started by the test, or naming its database (a runtime
        in its argv, a child process in its environment as STATEMACHINE_DB)."""
        if pid in self.extra_pids:
            return True
        db = os.fsencode(self.db)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if db in cmdline.read():
                    return True
            with open(f"/proc/{pid}/environ", "rb") as environ:
                return b"STATEMACHINE_DB=" + db in environ.read().split(b"\0")
        except OSError:
            return False


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def payloads(events: list[MachineEvent]) -> list[Mapping[str, Any]]:
    return [e.payload for e in events]


@pytest.fixture
async def cluster(tmp_path: Path, sock_dir: Path) -> AsyncIterator[Cluster]:
    """A :class:`Cluster` whose event socket is already listening."""
    work = Cluster(tmp_path, sock_dir)
    listener = EventListener(work.events.handle, work.event_socket)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(listener.run)
            try:
                yield work
            finally:
                work.kill_all()
                with trio.move_on_after(STEP_TIMEOUT) as scope:
                    scope.shield = True
                    for runtime in work.processes:
                        await runtime.process.wait()
                nursery.cancel_scope.cancel()
    finally:
        work.kill_all()
