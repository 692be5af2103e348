"""Whether a registry row's process still exists (rows of a killed runtime stay behind)."""

from __future__ import annotations

import os
from typing import Any


def pid_alive(pid: Any) -> bool:
    """False only when ``pid`` is a process id that no longer runs on this host (gone, or
    a zombie: killed, not yet reaped by its parent); True when no pid is recorded (another
    host, a simulation): the row is then trusted."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False  # no /proc here: trust kill(0)
