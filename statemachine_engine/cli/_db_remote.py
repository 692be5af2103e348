"""``statemachine-db send-event`` to a machine on another host: through its inbox in the database.

On a PostgreSQL database several hosts share, a machine whose registry row names another
host -- or that has no control socket here -- is sent its event as its runtime's peers do
(``persistence.remote_sql``): a row in its inbox and a NOTIFY on its host's channel. The
command then waits, bounded by ``--timeout``, until the target's runtime has taken the row:
that is the acknowledgement. A row not taken in time stays in the inbox (the target gets it
when it runs) and the command says so.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from statemachine_engine.cli._db_common import _database
from statemachine_engine.persistence import remote_sql
from statemachine_engine.transport import Delivery

#: seconds between two looks at the row while waiting for the target's runtime
POLL = 0.02


def deliver_through_database(
    args: argparse.Namespace, host: str | None, message: dict[str, Any]
) -> Delivery:
    """Put ``message`` in its target's inbox, notify ``host``, and wait (``args.timeout``)
    for the target's runtime to take it."""
    target = str(message["target"])
    message_id = uuid.uuid4().hex
    message = {**message, "message_id": message_id}
    where = f"host {host}" if host else "any host"
    with _database(args) as conn:
        remote_sql.send(
            conn,
            target=target,
            host=host,
            message_id=message_id,
            source=message.get("source"),
            event_type=str(message["type"]),
            message=json.dumps(message, separators=(",", ":")),
            now=time.time(),
        )
        deadline = time.monotonic() + args.timeout
        while True:
            status = remote_sql.status(conn, target, message_id)
            if status != remote_sql.SENT:
                return Delivery(True, f"taken from its inbox by its runtime on {where}")
            if time.monotonic() >= deadline:
                return Delivery(
                    False,
                    f"{target} is not running on this host, and no runtime on {where} took the"
                    f" event from its inbox within {args.timeout:g} s; it stays there and"
                    f" reaches {target} when it runs",
                )
            time.sleep(POLL)
