"""Real-world waits under a virtual clock.

Under :class:`trio.testing.MockClock` with auto-jump (simulation, ``autojump_clock`` tests)
the clock leaps to the next deadline whenever every task is blocked -- including while a
subprocess or a socket does real work, which would fire timeouts that never happen in
production. Actions wrap such waits in :func:`real_work`: meanwhile the virtual clock stands
still, so real work takes no virtual time and simulations stay deterministic.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    # not imported at run time: trio.testing imports pytest when it is installed, which
    # would add ~60 ms to every command's start for a clock only tests and simulations use
    from trio.testing import MockClock

_active: weakref.WeakKeyDictionary[MockClock, tuple[int, float]] = weakref.WeakKeyDictionary()


@contextmanager
def real_work() -> Iterator[None]:
    """Hold the virtual clock still while the block waits on the real world (no-op live)."""
    clock = trio.lowlevel.current_clock()
    # A MockClock exists only if someone imported trio.testing to make one.
    testing = sys.modules.get("trio.testing")
    if testing is None or not isinstance(clock, testing.MockClock):
        yield
        return
    count, threshold = _active.get(clock, (0, clock.autojump_threshold))
    if count == 0:
        clock.autojump_threshold = float("inf")
    _active[clock] = (count + 1, threshold)
    try:
        yield
    finally:
        count, threshold = _active[clock]
        if count == 1:
            del _active[clock]
            clock.autojump_threshold = threshold
        else:
            _active[clock] = (count - 1, threshold)
