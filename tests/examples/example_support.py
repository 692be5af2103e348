"""Helpers of the example tests: every example runs as a user would run it.

Each test copies its example into a temporary working directory and runs the real console
scripts (``statemachine``, ``statemachine run``, ``statemachine-db``, ...) there, with the
venv's bin folder first on PATH, a temporary database and its own short socket paths. Waits
are bounded and watch real conditions (the database, the event socket); every process a test
starts is stopped by its PID when the test ends.

The fixtures that hand these out live in conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.transport import MachineEvent

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BIN = Path(sys.executable).parent

#: generous bounds for real processes on a busy 2-core machine
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


class EventTap:
    """Collects every machine event published to the example's event socket."""

    def __init__(self) -> None:
        self.events: list[MachineEvent] = []
        self._changed = trio.Event()

    async def __call__(self, event: MachineEvent) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = trio.Event()

    def of(self, machine: str, kind: str | None = None) -> list[MachineEvent]:
        return [
            e for e in self.events if e.machine_name == machine and (kind is None or e.type == kind)
        ]

    def transitions(self, machine: str) -> list[tuple[str, str, str]]:
        """``(from_state, event, to_state)`` of every state change of ``machine``, in order."""
        return [
            (e.payload["from_state"], e.payload["event_trigger"], e.payload["to_state"])
            for e in self.of(machine, "state_change")
        ]

    def activity(self, machine: str) -> list[str]:
        return [str(e.payload.get("message")) for e in self.of(machine, "activity_log")]

    async def wait_for(
        self,
        predicate: Callable[[MachineEvent], bool],
        *,
        what: str,
        after: int = 0,
        nth: int = 1,
        timeout: float = 20.0,
    ) -> MachineEvent:
        """The ``nth`` event from number ``after`` on (already received or still to come) for
        which ``predicate`` holds."""
        seen = after
        found = 0
        with trio.move_on_after(timeout):
            while True:
                for event in self.events[seen:]:
                    seen += 1
                    if predicate(event):
                        found += 1
                        if found == nth:
                            return event
                await self._changed.wait()
        raise AssertionError(f"no event {what} within {timeout} s; got:\n{self.dump()}")

    async def wait_state(
        self, machine: str, state: str, *, after: int = 0, timeout: float = 20.0
    ) -> MachineEvent:
        """The first ``state_change`` of ``machine`` into ``state`` from event ``after`` on."""
        return await self.wait_for(
            lambda e: (
                e.machine_name == machine
                and e.type == "state_change"
                and e.payload.get("to_state") == state
            ),
            what=f"{machine} -> {state}",
            after=after,
            timeout=timeout,
        )

    async def wait_activity(
        self, machine: str, message: str, *, after: int = 0, timeout: float = 20.0
    ) -> MachineEvent:
        """The first ``activity_log`` of ``machine`` with exactly ``message``."""
        return await self.wait_for(
            lambda e: (
                e.machine_name == machine
                and e.type == "activity_log"
                and e.payload.get("message") == message
            ),
            what=f"{machine} logging {message!r}",
            after=after,
            timeout=timeout,
        )

    async def wait_terminated(self, machine: str, *, timeout: float = 20.0) -> MachineEvent:
        """``machine_terminated`` of ``machine``: the last event a machine publishes, so
        every earlier event of it has been received too."""
        return await self.wait_for(
            lambda e: e.machine_name == machine and e.type == "machine_terminated",
            what=f"{machine} terminated",
            timeout=timeout,
        )

    def dump(self) -> str:
        return "\n".join(
            f"  {e.machine_name} {e.type} {json.dumps(e.payload, default=str)}"
            for e in self.events[-60:]
        )


class Example:
    """A copy of one example in a temporary working directory, with its own sockets and db."""

    def __init__(self, name: str, root: Path, sockets: Path) -> None:
        self.name = name
        self.root = root
        self.sockets = sockets
        self.db = root / "data" / "test.db"
        self.processes: list[trio.Process] = []
        self.logs: dict[int, Path] = {}
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "STATEMACHINE_DB": str(self.db),
            "PYTHONUNBUFFERED": "1",
        }

    @property
    def control_prefix(self) -> str:
        return str(self.sockets / "ctl")

    @property
    def event_socket(self) -> str:
        return str(self.sockets / "events.sock")

    def socket_flags(self) -> list[str]:
        """The flags that keep this test's runtimes apart from every other one."""
        return [
            "--db",
            str(self.db),
            "--control-socket-prefix",
            self.control_prefix,
            "--event-socket-path",
            self.event_socket,
        ]

    async def start(self, *argv: str, log: str) -> trio.Process:
        """Start a console script in the working directory; output goes to logs/<log>.log."""
        logs = self.root / "test-logs"
        logs.mkdir(exist_ok=True)
        path = logs / f"{log}.log"
        with path.open("ab") as out:
            process = await trio.lowlevel.open_process(
                list(argv),
                cwd=str(self.root),
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        self.logs[process.pid] = path
        return process

    async def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run a console script to completion (bounded) and return its captured output."""
        with trio.fail_after(START_TIMEOUT):
            result = await trio.run_process(
                list(argv),
                cwd=str(self.root),
                env=self.env,
                capture_stdout=True,
                capture_stderr=True,
                check=False,
            )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {result.returncode}:\n"
                f"{result.stdout.decode()}{result.stderr.decode()}"
            )
        return result

    async def wait_exit(self, process: trio.Process, timeout: float = STOP_TIMEOUT) -> int:
        with trio.move_on_after(timeout):
            return await process.wait()
        raise AssertionError(
            f"process {process.pid} did not exit within {timeout} s\n{self.output()}"
        )

    def output(self) -> str:
        """Everything the started processes wrote, for failure messages."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in self.logs.values()
            if path.exists()
        )

    def log_of(self, process: trio.Process) -> str:
        return self.logs[process.pid].read_text(errors="replace")

    # -- the database, read as statemachine-db would ---------------------------------------

    def query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()

    def job_statuses(self) -> dict[str, str]:
        return {r["job_id"]: r["status"] for r in self.query("SELECT job_id, status FROM jobs")}

    def registry(self) -> dict[str, str]:
        """Running machines (``machine_state``): name -> current state."""
        rows = self.query("SELECT machine_name, current_state FROM machine_state")
        return {r["machine_name"]: r["current_state"] for r in rows}

    async def eventually(
        self, check: Callable[[], bool], *, what: str, timeout: float = 20.0
    ) -> None:
        """Poll ``check`` (a cheap read of the database or the file system) until it holds."""
        with trio.move_on_after(timeout):
            while not check():
                await trio.sleep(0.05)
            return
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{self.output()}")

    async def wait_registered(self, *machines: str) -> None:
        await self.eventually(
            lambda: set(machines) <= set(self.registry()),
            what=f"machines {', '.join(machines)} registered",
            timeout=START_TIMEOUT,
        )

    # -- sending events -----------------------------------------------------------------------

    async def send(self, target: str, event: str, payload: Any = None) -> None:
        """Deliver one event as a user does: ``statemachine-db send-event``, which finds the
        target's control socket in the registry and waits for its acknowledgement."""
        argv = ["statemachine-db", "send-event", "--target", target, "--type", event]
        if payload is not None:
            argv += ["--payload", json.dumps(payload)]
        argv += ["--control-socket-prefix", self.control_prefix, "--format", "json"]
        result = await self.run(*argv)
        assert json.loads(result.stdout)["delivered"] is True, result.stdout

    async def stop_all(self) -> None:
        """SIGTERM what is still running (by PID), SIGKILL it after a grace period."""
        with trio.CancelScope(shield=True):
            for process in self.processes:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            for process in self.processes:
                with trio.move_on_after(STOP_TIMEOUT):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
