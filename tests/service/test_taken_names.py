"""A name registered on a database several hosts share: another host's row is refused (its
process cannot be checked from here), this host's dead rows are taken over."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pytest

from statemachine_engine.errors import StateMachineError
from statemachine_engine.service._wiring import Wired, refuse_taken_names

#: a pid no process has (above the kernel's pid_max)
DEAD_PID = 2**22 + 1


class Registry:
    def __init__(self, *rows: Mapping[str, Any]) -> None:
        self.rows = rows

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return self.rows


def wired(*rows: Mapping[str, Any], host: str | None) -> Wired:
    return Wired(cast(Any, None), cast(Any, Registry(*rows)), cast(Any, None), host)


async def test_another_hosts_row_is_refused_with_the_way_out() -> None:
    row = {"machine_name": "w", "pid": DEAD_PID, "host": "b", "endpoint": None}
    with pytest.raises(StateMachineError) as caught:
        await refuse_taken_names(wired(row, host="a"), ["w"])
    assert str(caught.value) == (
        f"a machine named 'w' is registered by host 'b' (process {DEAD_PID}); stop it there,"
        " or if that host is gone for good, remove its row with:"
        " statemachine-db forget-machine w"
    )


async def test_this_hosts_dead_row_and_other_names_are_taken_over() -> None:
    rows = (
        {"machine_name": "w", "pid": DEAD_PID, "host": "a"},
        {"machine_name": "x", "pid": DEAD_PID, "host": "b"},
    )
    await refuse_taken_names(wired(*rows, host="a"), ["w", "y"])


async def test_a_database_no_other_host_shares_ignores_the_host() -> None:
    # SQLite: STATEMACHINE_HOST may change between runs of one host
    row = {"machine_name": "w", "pid": DEAD_PID, "host": "renamed"}
    await refuse_taken_names(wired(row, host=None), ["w"])


async def test_a_live_process_on_this_host_is_refused() -> None:
    row = {"machine_name": "w", "pid": os.getppid(), "host": "a", "endpoint": "/tmp/w.sock"}
    with pytest.raises(StateMachineError, match="already running in process"):
        await refuse_taken_names(wired(row, host="a"), ["w"])
