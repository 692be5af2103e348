"""What a machine actor is given by its runtime: narrow services, never the runtime itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from statemachine_engine.actors._directory import Directory
    from statemachine_engine.actors._outbox import Outbox
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.actors._spawner import Spawner
    from statemachine_engine.actors._timers import TimerQueue
    from statemachine_engine.persistence import Store


class MachineServices:
    """Shared by every machine of a runtime."""

    __slots__ = ("directory", "outbox", "reporter", "spawner", "store", "timers")

    def __init__(
        self,
        reporter: Reporter,  # history, errors, activity, monitor events
        timers: TimerQueue,  # deadlines of idle machines
        spawner: Spawner,  # start_fsm children, in process or as processes
        directory: Directory,  # where the events a machine sends go
        store: Store | None,  # for actions, and backpressure on the history
        outbox: Outbox,  # delivers what durable machines send, once committed
    ) -> None:
        self.reporter = reporter
        self.timers = timers
        self.spawner = spawner
        self.directory = directory
        self.store = store
        self.outbox = outbox
