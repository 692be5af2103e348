"""ActorStatistics: a snapshot of one machine's counters.

Its own module, imported when the first snapshot is taken: attrs generates and compiles a
class's methods when the class is built, and a machine process that nobody asks for
statistics should not pay for that at start.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ActorStatistics:
    """A snapshot of one machine's counters."""

    name: str
    state: str
    status: str  # starting, running, stopped, crashed
    mailbox_depth: int
    mailbox_capacity: int
    held: int  # events that arrived while actions ran and wait for the machine to be idle
    events_received: int
    transitions: int
    events_dropped: int  # received events that fired nothing in an idle machine
    action_events_ignored: int  # events returned by actions that fired nothing
    errors: int
