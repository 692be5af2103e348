"""The monitor in a thread of its own, and Debian's Chromium, for the browser tests.

Playwright's sync API owns the test's thread, so the monitor runs in-process on free ports in
a trio run of its own thread, and the tests publish machine events straight into its hub.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from playwright.sync_api import Browser, sync_playwright

from statemachine_engine.monitor import MonitorHub, MonitorServer, serve_monitor
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

    def __init__(self, project_root: Path) -> None:
        self.project_root = project_root
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
