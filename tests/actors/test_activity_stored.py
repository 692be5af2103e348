"""Activity lines kept in the store are thinned when a machine floods them: twenty a second
per machine, and a line saying how many were left out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import trio

from statemachine_engine.actors import open_runtime
from statemachine_engine.config import MachineSpec, load_config_text
from statemachine_engine.persistence import open_store

FLOODER = """
initial_state: ping
transitions:
  - {from: ping, to: pong, event: success}
  - {from: pong, to: ping, event: success}
actions:
  ping: [{type: log, message: "tick", success: success}]
  pong: [{type: log, message: "tock", success: success}]
"""


def spec(text: str) -> MachineSpec:
    return load_config_text(text)


async def test_a_flooding_machine_keeps_twenty_lines_a_second(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    async with open_store(tmp_path / "db.sqlite") as store:
        # the wall clock stands still: every line falls in the same second
        async with open_runtime(store=store, wall_clock=lambda: 1_000.0) as rt:
            ref = await rt.spawn(spec(FLOODER), name="flooder")
            while ref.statistics().transitions < 500:
                await trio.sleep(0)
            await ref.stop()
        await store.flush()
        page = await store.browse.history("flooder", kinds=("activity",), limit=500)
    assert len(page["items"]) == 20


class _Lines:
    """A recorder that only keeps activity lines."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, Mapping[str, Any], float]] = []

    def activity(
        self, machine_name: str, *, message: str, level: str, fields: Mapping[str, Any],
        timestamp: float,
    ) -> None:  # fmt: skip
        self.lines.append((message, level, dict(fields), timestamp))


def test_lines_left_out_are_counted_in_a_line_of_the_next_second() -> None:
    from statemachine_engine.actors._reporter import Reporter

    now = [100.0]
    lines = _Lines()
    reporter = Reporter(
        store=lines,  # type: ignore[arg-type]
        publisher=None,
        wall_clock=lambda: now[0],
        pid=1,
        endpoint=None,
    )
    for n in range(25):
        reporter.activity("m", f"line {n}", "info", {})
    assert [m for m, *_ in lines.lines] == [f"line {n}" for n in range(20)]
    now[0] = 101.5
    reporter.activity("m", "later", "info", {"job_id": "j1"})
    assert lines.lines[20:] == [
        ("5 activity lines not stored in 1.5 s (more than 20 a second)", "warning",
         {"not_stored": 5}, 101.5),
        ("later", "info", {"job_id": "j1"}, 101.5),
    ]  # fmt: skip
    reporter.activity("other", "its own budget", "info", {})
    assert lines.lines[-1][0] == "its own budget"
