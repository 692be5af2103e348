"""Outbox: delivers the messages durable machines sent, once they are committed, until acknowledged.

A durable machine's ``send_event`` records the message in its outbox in the step's
transaction and hands it here only after that commit. One task per target delivers its
messages in the order they were sent, one at a time; a failed delivery (target not running,
its runtime down, a full backlog) is retried with a growing pause, for as long as this runtime
runs -- a message not yet acknowledged stays ``pending`` in the outbox and is handed here
again when its sender resumes. The receiver's inbox drops a message it already has, so a
delivery retried after an acknowledgement that was lost does no harm.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import trio

from statemachine_engine._thinning import worth_logging
from statemachine_engine.errors import StateMachineError

if TYPE_CHECKING:
    from statemachine_engine.actors._directory import Directory
    from statemachine_engine.actors._reporter import Reporter
    from statemachine_engine.persistence import DurableLog
    from statemachine_engine.transport import Message

logger = logging.getLogger("statemachine_engine.runtime")

#: first and longest pause between two deliveries of a message that failed
RETRY_FIRST = 0.05
RETRY_MAX = 5.0


class Outbox:
    """The runtime's relay for messages sent by durable machines."""

    def __init__(
        self,
        nursery: trio.Nursery,
        *,
        directory: Directory,
        reporter: Reporter,
        log: DurableLog | None,
    ) -> None:
        self._nursery = nursery
        self._directory = directory
        self._reporter = reporter
        self._log = log
        self._queues: dict[str, deque[Message]] = {}
        self._drained: trio.Event | None = None
        #: deliveries that failed and were retried
        self.retries = 0

    def pending(self) -> int:
        """Messages handed here and not acknowledged yet."""
        return sum(len(queue) for queue in self._queues.values())

    async def wait_drained(self) -> None:
        """Wait until every message handed here is acknowledged."""
        while self._queues:
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()

    def post(self, message: Message) -> None:
        """Deliver ``message`` (committed to its sender's outbox) after those sent before it
        to the same target."""
        target = message.target
        assert target is not None
        queue = self._queues.get(target)
        if queue is None:
            queue = self._queues[target] = deque()
            self._nursery.start_soon(self._relay, target, queue)
        queue.append(message)

    async def _relay(self, target: str, queue: deque[Message]) -> None:
        try:
            while queue:
                await self._deliver(queue[0])
                queue.popleft()
        finally:
            del self._queues[target]
            if not self._queues and self._drained is not None:
                self._drained.set()
                self._drained = None

    async def _deliver(self, message: Message) -> None:
        attempts = 0
        pause = RETRY_FIRST
        while True:
            attempts += 1
            try:
                await self._directory.deliver(message)
            except (StateMachineError, OSError) as exc:
                self.retries += 1
                if worth_logging(attempts, first=1, every=100):
                    logger.warning(
                        "%s: message %s (%s) to %s not delivered yet (attempt %d, retrying): %s",
                        message.source,
                        message.message_id,
                        message.type,
                        message.target,
                        attempts,
                        exc,
                    )
                await trio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                continue
            break
        if self._log is not None and message.message_id is not None:
            self._log.delivered(message.message_id, attempts)
        self._reporter.event_sent(
            source=message.source or "",
            target=message.target or "",
            event_type=message.type,
            payload=message.payload,
            job_id=message.job_id,
            status="delivered",
        )
