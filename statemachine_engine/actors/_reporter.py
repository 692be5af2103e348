"""Reporter: what machines tell the outside world, as typed calls on the store and publisher.

Every call returns at once and never raises into a machine: the store and the publisher are
seams, and one that fails is counted in ``seam_failures`` and logged (thinned), while the
machines go on. The reporter also owns the events' sequence number and the wall clock.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from statemachine_engine._thinning import worth_logging
from statemachine_engine.actors._activity_rate import ActivityRate
from statemachine_engine.transport import MachineEvent, Message, Publisher

if TYPE_CHECKING:
    from statemachine_engine.config import MachineSpec
    from statemachine_engine.persistence import Recorder

logger = logging.getLogger("statemachine_engine.runtime")


class Reporter:
    """Records to the store (history, registry, errors) and publishes machine events."""

    __slots__ = (
        "_activity_rate",
        "_seq",
        "crashes",
        "endpoint",
        "pid",
        "publisher",
        "seam_failures",
        "store",
        "wall_time",
    )

    def __init__(
        self,
        *,
        store: Recorder | None,
        publisher: Publisher | None,
        wall_clock: Callable[[], float],
        pid: int,
        endpoint: str | None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.wall_time = wall_clock
        self.pid = pid
        self.endpoint = endpoint
        #: failures of the publisher and the store, which must never stop a machine
        self.seam_failures: dict[str, int] = {}
        #: (machine name, exception) of every machine whose own code failed
        self.crashes: list[tuple[str, BaseException]] = []
        self._seq = 0
        self._activity_rate = ActivityRate()

    # -- the machine's life ----------------------------------------------------------------

    def machine_started(self, name: str, state: str, spec: MachineSpec) -> None:
        now = self.wall_time()
        self._record(
            lambda store: store.machine_started(
                name,
                current_state=state,
                config_type=spec.config_type,
                pid=self.pid,
                endpoint=self.endpoint,
                timestamp=now,
            )
        )
        self.publish(
            name,
            "machine_registered",
            {
                "machine_name": name,
                "config_type": spec.config_type,
                "current_state": state,
                "template": spec.template,
            },
        )

    def transition(
        self, name: str, source: str, target: str, event: str, context: Mapping[str, Any]
    ) -> None:
        """The hot path: one store call and one event, no more."""
        store = self.store
        if store is None and self.publisher is None:
            return  # (an embedded runtime: not even the clock is read)
        now = self.wall_time()
        if store is not None:
            try:
                store.transition(
                    name,
                    from_state=source,
                    to_state=target,
                    event=event,
                    timestamp=now,
                    context=context,
                )
            except Exception as exc:  # the store boundary: report once, count, go on
                self._seam_failed("store", exc)
        if self.publisher is not None:
            self._seq += 1
            self._emit(
                MachineEvent(
                    name,
                    "state_change",
                    {
                        "from_state": source,
                        "to_state": target,
                        "event_trigger": event,
                        "timestamp": now,
                    },
                    now,
                    self._seq,
                )
            )

    def action_error(
        self,
        name: str,
        state: str,
        job_id: Any,
        *,
        action: str,
        message: str,
        tb: str,
    ) -> None:
        """An error for the error history and the monitor (``error`` event)."""
        self._record(
            lambda store: store.error(
                name,
                state=state,
                action=action,
                message=message,
                traceback=tb,
                timestamp=self.wall_time(),
                job_id=str(job_id) if job_id is not None else None,
            )
        )
        self.publish(
            name,
            "error",
            {"error_message": message, "state": state, "action": action, "job_id": job_id},
        )

    def machine_crashed(self, name: str, state: str, job_id: Any, exc: BaseException) -> None:
        self.crashes.append((name, exc))
        logger.error("machine %s crashed in state %r", name, state, exc_info=exc)
        self.action_error(
            name,
            state,
            job_id,
            action="(runtime)",
            message=f"machine crashed: {type(exc).__name__}: {exc}",
            tb="".join(traceback.format_exception(exc)),
        )

    def machine_stopped(
        self, name: str, state: str, spec: MachineSpec, reason: str, *, resumable: bool = False
    ) -> None:
        # stopped on purpose (Ctrl-C, SIGTERM, a parent stopping): the job it was running is
        # given back at once -- unless the machine resumes with it (durable): then, as after
        # a crash or a final state that left a job, its lease lapses if it does not come back
        give_back = reason == "stopped" and not resumable
        self._record(lambda store: store.machine_stopped(name, give_back_jobs=give_back))
        self.publish(
            name,
            "machine_terminated",
            {
                "machine_name": name,
                "config_type": spec.config_type,
                "final_state": state,
                "reason": reason,
            },
        )

    # -- what actions report -----------------------------------------------------------------

    def activity(self, name: str, message: str, level: str, fields: Mapping[str, Any]) -> None:
        """An ``activity_log`` line for the monitor: published, and kept in the store
        (``activity_log``) unless the machine floods it (see ``_activity_rate``)."""
        self.publish(name, "activity_log", {"message": message, "level": level, **fields})
        if self.store is None:
            return
        now = self.wall_time()
        stored, left_out, seconds = self._activity_rate.admit(name, now)
        if left_out:
            self._record(
                lambda store: store.activity(
                    name,
                    message=f"{left_out} activity lines not stored in {seconds:.1f} s (more "
                    f"than {self._activity_rate.per_second} a second)",
                    level="warning",
                    fields={"not_stored": left_out},
                    timestamp=now,
                )
            )
        if stored:
            self._record(
                lambda store: store.activity(
                    name, message=message, level=level, fields=fields, timestamp=now
                )
            )

    def unhandled(self, name: str, state: str, message: Message, *, publish: bool) -> None:
        """An event fired nothing in ``state`` and was dropped: audited in
        ``machine_events`` as ``unhandled``; with ``publish`` (thinned as the log is), an
        ``activity_log`` warning for the monitor too."""
        self.event_sent(
            source=message.source,
            target=name,
            event_type=message.type,
            payload=message.payload,
            job_id=message.job_id,
            status="unhandled",
        )
        if publish:
            self.activity(
                name,
                f"event {message.type!r} fired nothing in state {state!r}; dropped",
                "warning",
                {"event": message.type, "state": state},
            )

    def publish(self, name: str, event_type: str, payload: Mapping[str, Any]) -> None:
        if self.publisher is None:
            return
        self._seq += 1
        now = self.wall_time()
        body = dict(payload)
        body.setdefault("timestamp", now)
        self._emit(MachineEvent(name, event_type, body, now, self._seq))

    def event_sent(
        self,
        *,
        source: str | None,
        target: str,
        event_type: str,
        payload: Any,
        job_id: str | None,
        status: str,
    ) -> None:
        """Audit one event a machine sent (``machine_events``)."""
        self._record(
            lambda store: store.event_sent(
                source_machine=source,
                target_machine=target,
                event_type=event_type,
                payload=payload,
                job_id=job_id,
                status=status,
            )
        )

    # -- the seams ------------------------------------------------------------------------

    def _record(self, write: Callable[[Recorder], object]) -> None:
        """One write to the store, if there is one. (``transition``, on every step, spells
        this out instead of paying for a closure.)"""
        store = self.store
        if store is None:
            return
        try:
            write(store)
        except Exception as exc:  # the store boundary: report once, count, go on
            self._seam_failed("store", exc)

    def _emit(self, event: MachineEvent) -> None:
        # Publishers promise never to raise; one that does must not take machines down.
        try:
            self.publisher.publish(event)  # type: ignore[union-attr]
        except Exception as exc:  # the publisher boundary: report once, count, go on
            self._seam_failed("publisher", exc)

    def _seam_failed(self, what: str, exc: Exception) -> None:
        count = self.seam_failures.get(what, 0) + 1
        self.seam_failures[what] = count
        if worth_logging(count):
            logger.error("the %s failed (%d times so far): %s", what, count, exc, exc_info=exc)
