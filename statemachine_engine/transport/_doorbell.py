"""The job doorbell: a control message that tells a runtime a job was queued.

Workers waiting for jobs in other runtimes would otherwise notice a new job only at their
next slow poll. Ringing is best effort, trio-free and quick, so that ``statemachine-db
add-job`` stays a short command.
"""

from __future__ import annotations

from collections.abc import Sequence

#: the control message type; a runtime's router hands it to its store's job wake-ups
JOB_DOORBELL = "sm.job_added"

#: how long one runtime may take to take the doorbell before it is skipped
RING_TIMEOUT = 0.5


def ring_doorbells(endpoints: Sequence[str], machine_type: str) -> None:
    """Wake workers waiting for ``machine_type`` jobs in the runtimes at ``endpoints``.

    A runtime that is gone or slow is skipped after :data:`RING_TIMEOUT`.
    """
    if not endpoints:
        return
    from statemachine_engine.errors import TransportError
    from statemachine_engine.transport._control_client import send_to_socket
    from statemachine_engine.transport._paths import endpoint_path

    bell = {"type": JOB_DOORBELL, "payload": {"machine_type": machine_type}}
    for endpoint in endpoints:
        try:
            send_to_socket(endpoint_path(endpoint), bell, timeout=RING_TIMEOUT)
        except TransportError:
            continue
