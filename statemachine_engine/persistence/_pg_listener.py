"""The listener: one thread blocking on PostgreSQL notifications, handing them to trio.

A job added on any host sends ``NOTIFY statemachine_jobs, '<machine type>'`` with the
adding transaction's commit (``_dialect.notify_jobs_added``). This thread holds its own
autocommit connection that LISTENs on the channel and waits on it (psycopg's blocking
``notifies``, woken every half second to see whether it should stop). The machine types
it hears are gathered in a set and handed to trio with one ``run_sync_soon`` per burst (a
thousand jobs added at once wake the loop once, not a thousand times), where they wake the
workers waiting for them.

A lost connection is reopened with a backoff; notifications sent meanwhile are lost, so
every waiter is woken once it is back (they look at the queue themselves). The workers'
slow poll remains the fallback either way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.persistence._dialect import JOBS_CHANNEL
from statemachine_engine.persistence._pg_adapter import one_line
from statemachine_engine.persistence._pg_connect import connect

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: seconds a blocked wait for notifications lasts before it looks whether to stop
POLL_STOP = 0.5
#: the longest wait before reconnecting
RETRY_MAX = 5.0

#: the wake-up of "every waiter" (the connection was lost: notifications may be missed)
EVERYONE = None


class Listener:
    """LISTENs on the jobs channel in its own thread; calls ``wake(machine_type)`` on the
    trio thread (``wake(None)``: everybody) for what it hears."""

    def __init__(self, url: str, shown: str, wake: Callable[[str | None], None]) -> None:
        self._url = url
        self._shown = shown
        self._wake = wake
        self._token = trio.lowlevel.current_trio_token()
        self._lock = threading.Lock()
        self._heard: set[str | None] = set()
        self._handing = False  # a hand-off to trio is scheduled and not yet run
        self._stop = threading.Event()
        self._ready = threading.Event()
        #: notifications received (tests and statistics)
        self.received = 0
        self._thread = threading.Thread(
            target=self._serve, name=f"statemachine-store-listener:{shown}", daemon=True
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread; returns once it listens (or ``timeout`` passed: it keeps
        trying in the background, and the poll covers the gap)."""
        self._thread.start()
        self._ready.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        delay = 0.05
        conn: psycopg.Connection[Any] | None = None
        first = True
        while not self._stop.is_set():
            try:
                conn = connect(self._url, autocommit=True)
                conn.execute(f"LISTEN {JOBS_CHANNEL}")
                self._ready.set()
                if not first:
                    logger.warning("%s: listening for new jobs again", self._shown)
                    self._heard_one(EVERYONE)  # what was sent meanwhile is lost
                first = False
                delay = 0.05
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=POLL_STOP):
                        self._heard_one(note.payload)
            except Exception as exc:  # a lost connection; reopened after a pause
                if self._stop.is_set():
                    break
                logger.warning(
                    "%s: the job listener lost its connection (%s); reconnecting",
                    self._shown,
                    one_line(exc),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None

    def _heard_one(self, machine_type: str | None) -> None:
        with self._lock:
            self.received += 1
            self._heard.add(machine_type)
            if self._handing:
                return
            self._handing = True
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._hand_over)

    def _hand_over(self) -> None:
        """On the trio thread: wake the waiters of every machine type heard."""
        with self._lock:
            heard, self._heard = self._heard, set()
            self._handing = False
        if EVERYONE in heard:
            self._wake(None)
            return
        for machine_type in heard:
            # an empty payload is a job without a machine type: wake everyone
            self._wake(machine_type or None)
