"""The command line of a machine process: every path as the parent sees it, since a child
may run in another folder (a project's root) than the process that starts it."""

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
        "--db",
        f"{here}/data/pipeline.db",
        "--event-socket-path",
        f"{here}/sockets/events.sock",
        "--control-socket-prefix",
        f"{here}/sockets/control",
        "--actions-dir",
        f"{here}/actions",
        "--initial-context",
        '{"n": 1}',
    ]
