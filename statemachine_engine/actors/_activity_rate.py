"""Which activity lines a runtime stores: all of them, unless a machine floods.

The monitor's activity log is kept in the store (``activity_log``) so that it survives a
restart. A machine in a busy loop can log thousands of lines a second: storing each would
fill the table and compete with the machines' own writes. So each machine gets a budget of
``per_second`` stored lines in each one-second window (wall clock); lines past it are
counted, not stored, and the first line of a later window is preceded by one line saying
how many were left out. A machine that logs less than that never loses a line.
"""

from __future__ import annotations

#: lines of one machine stored per second before the rest are only counted
PER_SECOND = 20
#: machines whose window is remembered; past that the longest unrenewed is forgotten
_MACHINES_KEPT = 4096


class ActivityRate:
    """Per machine: whether a line is stored, and how many were left out before it."""

    __slots__ = ("_windows", "per_second")

    def __init__(self, per_second: int = PER_SECOND) -> None:
        self.per_second = per_second
        #: machine -> [window start, stored in it, left out in it]
        self._windows: dict[str, list[float]] = {}

    def admit(self, machine: str, now: float) -> tuple[bool, int, float]:
        """``(store it, lines left out before it, over how many seconds)``."""
        window = self._windows.get(machine)
        if window is None or now - window[0] >= 1.0:
            self._windows.pop(machine, None)
            self._windows[machine] = [now, 1, 0]
            if len(self._windows) > _MACHINES_KEPT:
                del self._windows[next(iter(self._windows))]
            if window is not None and window[2]:
                return True, int(window[2]), now - window[0]
            return True, 0, 0.0
        if window[1] < self.per_second:
            window[1] += 1
            return True, 0, 0.0
        window[2] += 1
        return False, 0, 0.0
