"""The one rule for summarising a repeated log line.

A line that can repeat without bound (an event dropped, a failing store, a malformed
message) is logged the first ``first`` times it happens, then every ``every``-th time, each
with its running count, so a flood says how big it is without filling the log.
"""

from __future__ import annotations

#: after the first lines, one in this many is logged
LOG_EVERY = 1000


def worth_logging(count: int, *, first: int = 1, every: int = LOG_EVERY) -> bool:
    """Whether occurrence number ``count`` (1-based) of a repeated line is logged."""
    return count <= first or count % every == 0
