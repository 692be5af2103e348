"""The cycle collector's passes spaced out while a machine process starts.

A start allocates a few hundred thousand objects that live as long as the process (modules,
classes, the spec), and with Python's thresholds (a young-generation pass every 700 new
objects) the collector looks for cycles among them some fifty times on the way. While the
command starts, a pass comes every :data:`START_THRESHOLD` new objects instead; once the
machine runs, one collection frees the start's garbage, the survivors are frozen out of the
collector's sight and the thresholds are put back (``service._machine_process._settle``).
Every way out of the command puts them back too, so a caller that runs the command
in-process gets its collector as it was.

Measured on a warm start (callgrind, and the process's anonymous memory once idle, installed
from a wheel): turning the collector off instead saved three times the instructions but left
the idle process 0.9 MiB larger -- cyclic garbage no longer collected along the way (attrs'
replaced classes, argparse's formatters) made later objects take fresh memory -- where
spacing its passes out left it as it was. Imports nothing but :mod:`gc`: it runs before the
imports it spares.
"""

from __future__ import annotations

import gc

#: new objects between two young-generation passes while a machine process starts
START_THRESHOLD = 5000

_saved: tuple[int, ...] | None = None


def space_out() -> None:
    """Space the collector's passes out for a start (unless they are already)."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        if 0 < _saved[0] < START_THRESHOLD:  # (0: the caller turned automatic passes off)
            gc.set_threshold(START_THRESHOLD, *_saved[1:])


def restore() -> None:
    """Put back the thresholds :func:`space_out` found."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
