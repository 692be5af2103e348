"""Notices: one thread LISTENing on PostgreSQL channels, waking trio for what it hears.

The store's waiting workers (``statemachine_jobs``: a job was added), the inbox of a host's
runtime and the monitor's history feed (see ``_remote_sql``) are woken by NOTIFY. psycopg's
blocking ``notifies`` needs a thread; what it hears is handed to trio as one wake-up per
burst (a thousand notifications wake the loop once): the payloads heard since the last
wake-up, gathered in a set, either passed to a callback on the trio thread (the store's
wake-ups) or kept for a task waiting in :meth:`Notices.wait`. The reader then looks in the
tables itself, so a notification is a hint, never the data.

A lost connection is reopened with a backoff; what was sent meanwhile is lost, so the
reader is woken once it is back (``None`` among the payloads: "look at everything"). The
reader's own slow poll stays the fallback either way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from statemachine_engine.persistence._pg_adapter import one_line
from statemachine_engine.persistence._pg_connect import connect, display_url
from statemachine_engine.persistence._remote_sql import quoted

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: seconds a blocked wait for notifications lasts before it looks whether to stop
POLL_STOP = 0.2
#: the longest pause before reconnecting
RETRY_MAX = 5.0
#: seconds :meth:`Notices.start` waits for the first LISTEN
READY_WAIT = 10.0


class Notices:
    """LISTENs on ``channels`` of the database at ``url`` in its own thread, from
    :meth:`start` to :meth:`stop`; hands what it hears to ``on_heard``, or to a trio task
    waiting in :meth:`wait`."""

    def __init__(
        self,
        url: str,
        channels: Sequence[str],
        on_heard: Callable[[set[str | None]], None] | None = None,
    ) -> None:
        """``on_heard``: called on the trio thread with each burst's payloads (``None``
        among them: anything may have been missed); without it, :meth:`wait` gets them."""
        self._url = url
        self._on_heard = on_heard
        self._shown = display_url(url)
        self._channels = tuple(channels)
        self._token = trio.lowlevel.current_trio_token()
        self._lock = threading.Lock()
        self._heard: set[str | None] = set()
        self._handing = False  # a hand-off to trio is scheduled and not yet run
        self._arrived = trio.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        #: notifications received (tests and statistics)
        self.received = 0
        self._thread = threading.Thread(
            target=self._serve, name=f"statemachine-notices:{self._shown}", daemon=True
        )

    async def start(self) -> None:
        """Start the thread; returns once it listens, or after ``READY_WAIT`` seconds (it
        keeps trying; the reader's poll covers the gap)."""
        self._thread.start()
        await trio.to_thread.run_sync(self._ready.wait, READY_WAIT)

    async def stop(self) -> None:
        """End the thread (up to about ``POLL_STOP``), also when the caller is cancelled: a
        thread left listening outlives its owner. Nothing to do when it never started."""
        self._stop.set()
        if self._thread.ident is not None:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self._thread.join, 10)

    async def wait(self, within: float) -> set[str | None]:
        """The payloads heard since the last call, waiting up to ``within`` seconds for
        one (an empty set: nothing came; ``None`` in it: anything may have been missed)."""
        if not self._arrived.is_set():
            with trio.move_on_after(within):
                await self._arrived.wait()
        with self._lock:
            heard, self._heard = self._heard, set()
        self._arrived = trio.Event()
        return heard

    def _serve(self) -> None:
        delay = 0.05
        conn: psycopg.Connection[Any] | None = None
        first = True
        while not self._stop.is_set():
            try:
                conn = connect(self._url, autocommit=True)
                for channel in self._channels:
                    conn.execute(f"LISTEN {quoted(channel)}")
                self._ready.set()
                if not first:
                    logger.warning("%s: listening for notifications again", self._shown)
                    self._heard_one(None)  # what was sent meanwhile is lost
                first = False
                delay = 0.05
                while not self._stop.is_set():
                    for note in conn.notifies(timeout=POLL_STOP):
                        self._heard_one(note.payload)
            except Exception as exc:  # a lost connection; reopened after a pause
                if self._stop.is_set():
                    break
                logger.warning(
                    "%s: lost the connection listening on %s (%s); reconnecting",
                    self._shown,
                    ", ".join(self._channels),
                    one_line(exc),
                )
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None

    def _heard_one(self, payload: str | None) -> None:
        with self._lock:
            self.received += 1
            self._heard.add(payload)
            if self._handing:
                return
            self._handing = True
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._hand_over)

    def _hand_over(self) -> None:
        """On the trio thread: hand the burst to the callback, else wake the reader."""
        with self._lock:
            self._handing = False
            if self._on_heard is None:
                heard = None
            else:
                heard, self._heard = self._heard, set()
        if heard is None:
            self._arrived.set()
        elif self._on_heard is not None:
            self._on_heard(heard)
