"""The command line of a machine process: every path as the parent sees it, since a child
may run in another folder (a project's root) than the process that starts it; the
database in its environment, not in its command line (which any user sees with ``ps``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import trio

from statemachine_engine.service import ChildProcesses, LaunchSettings


async def test_relative_paths_reach_the_child_as_absolute_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = LaunchSettings(
        db="data/pipeline.db",
        event_socket_path="sockets/events.sock",
        control_socket_prefix="sockets/control",
        actions_dir="actions",
        cwd="/somewhere/else",
    )
    async with trio.open_nursery() as nursery:
        argv = ChildProcesses(settings, nursery).argv("config/kid.yaml", "kid", {"n": 1})
    here = os.fspath(tmp_path)
    assert argv == [
        sys.executable,
        "-m",
        "statemachine_engine",
        f"{here}/config/kid.yaml",
        "--machine-name",
        "kid",
        "--event-socket-path",
        f"{here}/sockets/events.sock",
        "--control-socket-prefix",
        f"{here}/sockets/control",
        "--actions-dir",
        f"{here}/actions",
        "--initial-context",
        '{"n": 1}',
    ]


@pytest.mark.parametrize(
    ("db", "seen"),
    [
        ("data/pipeline.db", "{here}/data/pipeline.db"),
        (":memory:", ":memory:"),
        (
            "postgresql://me:secret@db.example:5432/jobs",
            "postgresql://me:secret@db.example:5432/jobs",
        ),
    ],
)
async def test_the_database_reaches_the_child_in_its_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: str, seen: str
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = LaunchSettings(db=db, cwd="/somewhere/else")
    async with trio.open_nursery() as nursery:
        children = ChildProcesses(settings, nursery)
        argv = children.argv("config/kid.yaml", "kid", {})
        env = children.environment()
    assert env["STATEMACHINE_DB"] == seen.format(here=os.fspath(tmp_path))
    assert "--db" not in argv and not any("secret" in arg for arg in argv)
    assert env["PATH"] == os.environ["PATH"]
