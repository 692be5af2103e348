"""Snapshots of the control server's and the event publisher's counters.

Their own module, imported when the first snapshot is taken: attrs generates and compiles a
class's methods when the class is built, and a machine process that nobody asks for
statistics should not pay for that at start. The counters themselves are plain attributes
of the server and the publisher.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class ControlServerStatistics:
    connections_open: int = 0
    connections_total: int = 0
    messages_accepted: int = 0
    messages_refused: int = 0
    #: connections closed at once because ``max_connections`` were open
    connections_refused: int = 0


@attrs.frozen
class PublisherStatistics:
    published: int  # publish() calls
    sent: int  # events written to the socket
    writes: int  # writes those took (a burst of events goes out in one)
    dropped: int  # events discarded (buffer full, unencodable, lost in a broken write)
    buffered: int  # events waiting to be written
    connected: bool
    connects: int  # successful connections so far
