"""The monitor in a thread of its own, real runtimes beside it, and Debian's Chromium, for
the browser tests.

Playwright's sync API owns the test's thread, so the monitor runs in-process on free ports in
a trio run of its own thread. Tests either publish machine events straight into its hub, or
give it a database and an event socket and run real ``statemachine`` processes
(:class:`Runtimes`) whose history it reads and whose events it relays.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Browser, sync_playwright

from statemachine_engine.monitor import MonitorHub, MonitorServer, serve_monitor
from statemachine_engine.persistence import browse_file
from statemachine_engine.transport import MachineEvent

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000
BIN = Path(sys.executable).parent
#: bound for a runtime process to start, or for a database row to appear
STEP_S = 20.0


def launch_chromium() -> Iterator[Browser]:
    """Debian's chromium under Playwright, for a module-scoped ``browser`` fixture."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class MonitorThread:
    """serve_monitor in a trio run of its own thread; events are published into its hub."""

    def __init__(
        self,
        project_root: Path,
        *,
        db: Path | None = None,
        event_socket_path: str | None = None,
        write_token: str | None = None,
    ) -> None:
        self.project_root = project_root
        self.db = db
        self.event_socket_path = event_socket_path
        self.write_token = write_token
        self.server: MonitorServer | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = threading.Event()
        self._stop: trio.Event | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)

    def __enter__(self) -> MonitorThread:
        self._thread.start()
        if not self._ready.wait(20):
            raise RuntimeError("the monitor did not start within 20 s")
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None and self._stop is not None
        trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(20)

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with trio.open_nursery() as nursery:
            self.server = await nursery.start(
                partial(
                    serve_monitor,
                    MonitorHub(capacity=20_000),
                    ui_port=0,
                    websocket_port=0,
                    project_root=self.project_root,
                    event_socket_path=self.event_socket_path,
                    # a monitor reads a database (statemachine-ui defaults to the
                    # runtime's): without one given, a missing file, read as empty
                    browse=browse_file(self.db or self.project_root / "no-runs.db"),
                    write_token=self.write_token,
                    token_folder=self.project_root,
                )
            )
            self._ready.set()
            await self._stop.wait()
            nursery.cancel_scope.cancel()

    @property
    def url(self) -> str:
        assert self.server is not None and self.server.ui_url is not None
        return self.server.ui_url + "/"

    def call(self, fn: Any, *args: Any) -> Any:
        assert self._token is not None
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def publish(self, name: str, kind: str, **payload: Any) -> float:
        """Publish one event; returns its wall-clock time (seconds)."""
        assert self.server is not None
        now = time.time()
        self.call(self.server.hub.publish, MachineEvent(name, kind, payload, now))
        return now

    def register(self, name: str, config_type: str, state: str) -> None:
        self.publish(name, "machine_registered", config_type=config_type, current_state=state)

    def move(self, name: str, from_state: str, to_state: str, event: str) -> float:
        return self.publish(
            name, "state_change", from_state=from_state, to_state=to_state, event_trigger=event
        )


class Runtimes:
    """Real ``statemachine`` processes sharing one database and event socket (the monitor's),
    each in its own session; whatever is still running at exit is killed by its id."""

    def __init__(self, root: Path, sock_dir: Path) -> None:
        self.root = root
        self.db = root / "data" / "ui.db"
        self.event_socket = str(sock_dir / "e.sock")
        # machines are reached on the default control-socket prefix: unique names keep
        # parallel test runs apart
        self.tag = f"ui{os.getpid()}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Runtimes:
        self.db.parent.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def name(self, base: str) -> str:
        """A machine name unique to this test process."""
        return f"{base}-{self.tag}"

    def args(self) -> list[str]:
        return ["--db", str(self.db), "--event-socket-path", self.event_socket]

    def start(self, config: Path, name: str) -> subprocess.Popen[bytes]:
        """Run ``statemachine CONFIG --machine-name NAME`` until the registry lists it."""
        log = open(self.root / f"{name}.out", "ab")  # noqa: SIM115 - the process writes it
        with log:
            process = subprocess.Popen(
                [str(BIN / "statemachine"), str(config), "--machine-name", name, *self.args()],
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        self.processes.append(process)
        self.wait(
            f"{name} to register",
            lambda: self.query("SELECT 1 FROM machine_state WHERE machine_name = ?", name),
        )
        return process

    def run(self, config: Path, name: str) -> None:
        """Run a machine to its end (it must reach a final state on its own)."""
        subprocess.run(
            [str(BIN / "statemachine"), str(config), "--machine-name", name, *self.args()],
            cwd=self.root,
            check=True,
            capture_output=True,
            timeout=STEP_S,
        )

    def db_command(self, *args: str) -> str:
        """``statemachine-db --db DB ARGS``; its standard output."""
        done = subprocess.run(
            [str(BIN / "statemachine-db"), "--db", str(self.db), *args],
            cwd=self.root,
            check=True,
            capture_output=True,
            text=True,
            timeout=STEP_S,
        )
        return done.stdout

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            conn.close()

    def wait(self, what: str, check: Callable[[], Any], timeout: float = STEP_S) -> Any:
        """Poll the database (another process's writes cannot wake us) until ``check()``
        returns something true, bounded overall."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.05)

    def job_status(self, job_id: str) -> str | None:
        rows = self.query("SELECT status FROM jobs WHERE job_id = ?", job_id)
        return str(rows[0]["status"]) if rows else None
