"""The cycle collector paused while a machine process starts.

A start allocates a few hundred thousand objects that live as long as the process (modules,
classes, the spec), and the collector would look for cycles among them some fifty times on
the way: 10 ms of a 200 ms start. ``statemachine`` pauses it first thing; once the machine
runs, one collection frees the start's garbage, the survivors are frozen out of the
collector's sight and it resumes (``service._machine_process._settle``). Every way out of
the command resumes it too, so a caller that runs the command in-process gets its collector
back as it was. Imports nothing but :mod:`gc`: it runs before the imports it spares.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Turn the collector off, unless it is off already (then :func:`resume` leaves it)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Turn the collector back on if :func:`pause` turned it off."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()
