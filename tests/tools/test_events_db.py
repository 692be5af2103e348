"""``statemachine-events --db URL``: the machines of every host, followed through the
PostgreSQL database; a SQLite file is refused with what to do instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio

from statemachine_engine.cli._events import main
from statemachine_engine.persistence import open_store
from statemachine_engine.tools._events_monitor import follow_database


async def test_the_machines_of_every_host_are_followed_through_the_database(
    pg_url: str,
) -> None:
    shown: list[Mapping[str, Any]] = []
    notes: list[str] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: follow_database(shown.append, pg_url, announce=notes.append))
        with trio.fail_after(20):
            while not notes:
                await trio.sleep(0.01)
        # two hosts, this one's included: statemachine-events shows them all
        async with (
            open_store(pg_url, host="here") as here,
            open_store(pg_url, host="there") as there,
        ):
            for store, name in ((here, "local"), (there, "remote")):
                store.machine_started(
                    name, current_state="idle", config_type="worker", pid=1, endpoint=None,
                    timestamp=1.0,
                )  # fmt: skip
                store.transition(name, from_state="idle", to_state="busy", event="go",
                                 timestamp=2.0)  # fmt: skip
                await store.flush()
            with trio.fail_after(20):
                while len([e for e in shown if e["type"] == "state_change"]) < 2:
                    await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    seen = {(e["machine_name"], e["type"]) for e in shown}
    assert {("local", "machine_registered"), ("remote", "machine_registered")} <= seen
    changes = [e for e in shown if e["type"] == "state_change"]
    assert {(e["machine_name"], e["payload"]["to_state"]) for e in changes} == {
        ("local", "busy"),
        ("remote", "busy"),
    }
    assert notes and "following the machines of every host in postgresql://" in notes[0]


def test_a_sqlite_file_is_refused_saying_why(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--db", "data/pipeline.db"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--db data/pipeline.db: not a postgresql:// URL" in err
    assert "follows without --db" in err


def test_an_unreachable_database_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--db", "postgresql://nobody@127.0.0.1:1/none", "--duration", "5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("statemachine-events: ")
