"""A runtime process that cannot start raises one StateMachineError (not trio's nested
exception groups) and leaves nothing behind: no control socket, no registry row, and for a
custom action that cannot be loaded, not even a database."""

from __future__ import annotations

import logging
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from statemachine_engine.config import load_config
from statemachine_engine.errors import (
    ActionLoadError,
    ConfigError,
    StateMachineError,
    TransportError,
    sole_error,
)
from statemachine_engine.monitor import embedded_monitor
from statemachine_engine.service import (
    ProcessOptions,
    load_manifest,
    run_machine_process,
    run_project,
)

MACHINE = """\
metadata: {machine_name: m}
initial_state: idle
final_states: [done]
states: [idle, done]
events: [stop]
transitions:
  - {from: idle, to: done, event: stop}
"""


@pytest.fixture
def folder() -> Iterator[Path]:
    """A fresh folder with a short path (Unix socket paths must stay under ~100 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="smsvc", dir="/tmp"))
    (path / "m.yaml").write_text(MACHINE)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_sole_error_is_the_one_error_however_deeply_grouped() -> None:
    error = TransportError("port taken")
    group = BaseExceptionGroup("outer", [BaseExceptionGroup("inner", [error])])
    assert sole_error(group, StateMachineError) is error


def test_sole_error_raises_a_group_that_holds_anything_else() -> None:
    group = BaseExceptionGroup("outer", [StateMachineError("ours"), KeyError("not ours")])
    with pytest.raises(BaseExceptionGroup) as raised:
        sole_error(group, StateMachineError)
    assert raised.value is group


def test_a_monitor_port_in_use_is_one_transport_error(folder: Path) -> None:
    publisher_log = logging.getLogger("statemachine_engine.transport._event_publisher")
    filters = list(publisher_log.filters)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        options = ProcessOptions(
            spec=load_config(folder / "m.yaml"),
            name="m",
            db=str(folder / "m.db"),
            event_socket_path=str(folder / "ev.sock"),
            control_socket_prefix=str(folder / "ctl"),
            monitor=embedded_monitor(ui_port=0, websocket_port=port),
        )
        with pytest.raises(TransportError) as raised:
            run_machine_process(options)
    assert str(raised.value) == (
        f"cannot start the WebSocket server on 127.0.0.1:{port}: address already in use "
        "(another server listens there: stop it, or choose another port)"
    )
    assert not (folder / "ctl-m.sock").exists()
    conn = sqlite3.connect(folder / "m.db")
    try:
        assert conn.execute("SELECT machine_name FROM machine_state").fetchall() == []
    finally:
        conn.close()
    assert publisher_log.filters == filters  # the --monitor log filter is gone again


def test_a_project_with_an_action_that_cannot_load_starts_nothing(folder: Path) -> None:
    # what `statemachine run` would meet if its check were skipped; the machine uses the
    # broken type (a file no machine uses is only a warning, and the project would run)
    (folder / "actions").mkdir()
    (folder / "actions" / "oops_action.py").write_text("import nonexistent_mod\n")
    (folder / "m.yaml").write_text(MACHINE + "actions:\n  idle:\n    - {type: oops}\n")
    (folder / "statemachine-project.yaml").write_text(
        f"name: demo\ndb: data/demo.db\nactions_dir: actions\nmonitor: false\n"
        f"control_socket_prefix: {folder}/ctl\nevent_socket_path: {folder}/ev.sock\n"
        "machines:\n  - config: m.yaml\n"
    )
    manifest = load_manifest(folder / "statemachine-project.yaml")
    with pytest.raises(ActionLoadError) as raised:
        run_project(manifest, say=lambda text: None)
    [issue] = raised.value.issues
    assert (issue.file, issue.line) == (str((folder / "actions" / "oops_action.py").resolve()), 1)
    assert issue.message == (
        "custom action 'oops' failed to import: ModuleNotFoundError: "
        "No module named 'nonexistent_mod'"
    )
    assert not (folder / "data").exists()
    assert not (folder / "ctl-demo.sock").exists()


@pytest.mark.parametrize(
    ("job", "where", "message"),
    [
        # a store column cannot hold it: `statemachine run` printed add_job's traceback
        (
            "{job_id: j1, job_type: t, priority: 99999999999999999999999}",
            "$.jobs[0].priority",
            "'priority' must be a whole number from -2147483648 to 2147483647 (1 = highest), "
            "got 99999999999999999999999",
        ),
        ("{job_id: j1, job_type: t, priority: high}", "$.jobs[0].priority", "got 'high'"),
        ("{job_id: j1, job_type: t, data: [1, 2]}", "$.jobs[0].data", "must be a mapping"),
    ],
)
def test_a_manifest_job_no_store_can_hold_is_an_error_at_its_line(
    folder: Path, job: str, where: str, message: str
) -> None:
    (folder / "statemachine-project.yaml").write_text(
        f"name: demo\ndb: data/demo.db\nmonitor: false\njobs:\n  - {job}\n"
        "machines:\n  - config: m.yaml\n"
    )
    with pytest.raises(ConfigError) as refused:
        load_manifest(folder / "statemachine-project.yaml")
    [issue] = refused.value.issues
    assert (issue.line, issue.path) == (5, where)
    assert message in issue.message
