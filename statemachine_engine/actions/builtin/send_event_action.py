"""``send_event``: deliver an event to another machine (or to this one)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from statemachine_engine import _strict_json
from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin._values import as_bool, current_job_id, fail, unresolved
from statemachine_engine.errors import ActorStopped, TransportError


class SendEventAction(BaseAction):
    """Send ``event_type`` with a payload to the machine named ``target_machine``.

    Keys:
        target_machine (or ``target``): the receiving machine's name (required).
        event_type: the event's type; default ``generic_event``.
        payload: a mapping (its values already interpolated, types kept), or a whole
            placeholder such as ``"{event_data.payload}"`` that names one. A string holding
            a JSON object is decoded; any other value ``v`` is sent as ``{"value": v}``.
            Placeholders the context cannot resolve stay as written, with a warning naming
            them (the published package silently sent null instead).
        job_id: the job the event is about; default the machine's current job
            (``job_id``, else ``current_job.job_id``, else ``current_job.id``).
        fire_and_forget: when true (``true``, ``"yes"``, ``1``; ``"false"`` is false),
            dispatch no event to this machine after sending.
        success: event dispatched to this machine after sending; default ``event_sent``.
        error: event when the target is unknown, stopped or unreachable; default ``error``
            (``last_error`` says which and why).
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "event_sent", "error": "error"}
    #: from a durable machine the message keeps its id when the action runs again, and the
    #: receiver drops the copy
    RERUN_SAFE: ClassVar[bool] = True
    # target_machine is required, but ``target`` may stand for it, so the linter cannot
    # demand either one by name; execute() raises when both are missing
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    KEYS: ClassVar[tuple[str, ...]] = (
        "target_machine",
        "target",
        "event_type",
        "payload",
        "job_id",
        "fire_and_forget",
    )

    async def execute(self, context: dict[str, Any]) -> str | None:
        machine = self.get_machine_name(context)
        target = self.get_config_value("target_machine", self.get_config_value("target"))
        if target in (None, ""):
            raise ValueError("send_event: the 'target_machine' setting is required")
        target = str(target)
        event_type = str(self.get_config_value("event_type", "generic_event") or "generic_event")
        fire_and_forget = as_bool(
            self.get_config_value("fire_and_forget", False), key="send_event: fire_and_forget"
        )
        # a placeholder is written with braces: most targets are plain names
        missing = unresolved(target, context) if "{" in target else None
        if missing:
            return fail(
                self,
                context,
                f"could not deliver {event_type} to {target}: placeholder(s) not found in the "
                f"context: {', '.join(missing)}",
            )

        raw = self.get_config_value("payload")
        missing = unresolved(raw, context) if raw is not None else None
        if missing:
            self.logger.warning(
                "[%s] send_event %s to %s: placeholder(s) not found in the context, sent as "
                "written: %s",
                machine,
                event_type,
                target,
                ", ".join(missing),
            )
        payload = as_payload(raw)

        job_id = self.get_config_value("job_id")
        if job_id in (None, "") or unresolved(job_id, context):
            job_id = current_job_id(context)

        try:
            await self.host.send(target, event_type, payload, job_id=_str_or_none(job_id))
        except (ActorStopped, TransportError, LookupError) as exc:
            return fail(self, context, f"could not deliver {event_type} to {target}: {exc}")
        self.logger.debug("[%s] sent %s to %s", machine, event_type, target)
        if fire_and_forget:
            return None
        return self.event("success", "event_sent")


def as_payload(raw: Any) -> dict[str, Any]:
    """The payload to send, always a fresh dict (the receiver never shares our objects)."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return copy.deepcopy(dict(raw))
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        try:
            decoded = _strict_json.loads(raw)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return decoded
    return {"value": copy.deepcopy(raw)}


def _str_or_none(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
