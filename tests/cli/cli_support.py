"""Helpers of the command tests (the fixtures are in conftest.py): a :class:`Place` is a
fresh folder with a short path (Unix socket paths must stay under ~100 bytes) holding the
README's ``hello.yaml``, and where a run's database, control socket and event socket go, so
a test can check that a failed start left nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: the README's first machine
HELLO = """\
metadata: {machine_name: hello}
initial_state: waiting
final_states: [stopped]
states: [waiting, greeting, stopped]
events: [greet, job_done, stop]
transitions:
  - {from: waiting, to: greeting, event: greet}
  - {from: greeting, to: waiting, event: job_done}
  - {from: waiting, to: waiting, event: timeout(10)}
  - {from: "*", to: stopped, event: stop}
actions:
  waiting:
    - {type: log, message: "waiting for someone to greet"}
  greeting:
    - type: bash
      command: "echo Hello, {event_data.payload.name}!"
"""

#: a machine that reaches its final state on its own, at once
QUICK = """\
metadata: {machine_name: quick}
initial_state: start
final_states: [done]
states: [start, done]
events: [finish]
transitions:
  - {from: start, to: done, event: finish}
actions:
  start:
    - {type: log, message: "starting", success: finish}
"""


class Place:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "hello.yaml"
        self.config.write_text(HELLO)
        self.quick = root / "quick.yaml"
        self.quick.write_text(QUICK)
        self.db = root / "run" / "machines.db"
        self.prefix = str(root / "ctl")
        self.events = str(root / "ev.sock")

    def flags(self) -> list[str]:
        """Where a run's database and sockets go."""
        return [
            "--db",
            str(self.db),
            "--control-socket-prefix",
            self.prefix,
            "--event-socket-path",
            self.events,
        ]

    def control_socket(self, machine: str) -> Path:
        return Path(f"{self.prefix}-{machine}.sock")

    def registry(self) -> list[str]:
        """Names of the machines the database's registry lists (none without a database)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(self.db)
        try:
            return [row[0] for row in conn.execute("SELECT machine_name FROM machine_state")]
        finally:
            conn.close()
