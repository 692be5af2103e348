"""The database file: created owner-only, watched while a runtime writes to it, refused with
what is wrong when it cannot be opened, never conjured up by a command that only reads.

An adversarial pass found the database and its WAL world-readable (0644) although they hold
payloads and contexts; a file deleted under a running worker unnoticed (new jobs went to a
new file and stayed pending for ever); "check that the path and its folder exist" for a
file the user may not write; and ``statemachine-db --db TYPO list`` creating a new database
and its folders. (Real files; the runtime tests use the real clock under trio.fail_after.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from statemachine_engine.cli._db import main as db_main
from statemachine_engine.errors import StoreError
from statemachine_engine.persistence import connect, open_store

#: a user the permission tests run as when the suite runs as root (root may write anything)
NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def root() -> Iterator[Path]:
    """A fresh folder under /tmp that any user may enter (for the tests run as nobody)."""
    path = Path(tempfile.mkdtemp(prefix="smdb", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The usual umask (022), under which SQLite's own files come out world-readable."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


# -- owner-only files ------------------------------------------------------------------------


@pytest.mark.usefixtures("loose_umask")
def test_a_new_database_its_log_and_its_folders_are_owner_only(root: Path) -> None:
    db = root / "new" / "deeper" / "jobs.db"
    conn = connect(db)
    try:
        conn.execute("INSERT INTO jobs (job_id, job_type) VALUES ('j1', 't')")
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()
        assert mode(db) == 0o600
        assert mode(wal) == 0o600
        assert mode(shm) == 0o600
    finally:
        conn.close()
    assert mode(root / "new") == 0o700
    assert mode(root / "new" / "deeper") == 0o700
    assert mode(root) == 0o755  # a folder that existed is left as it was


@pytest.mark.usefixtures("loose_umask")
async def test_the_runtime_store_creates_its_files_owner_only(root: Path) -> None:
    db = root / "data" / "pipeline.db"
    with trio.fail_after(10):
        async with open_store(db) as store:
            await store.add_job("j1", "t")
            assert mode(db) == 0o600
            assert mode(Path(f"{db}-wal")) == 0o600
    assert mode(root / "data") == 0o700


# -- a database deleted or replaced under a running runtime ------------------------------------


def leaf_store_error(excinfo: pytest.ExceptionInfo[BaseException]) -> StoreError:
    """The one StoreError a failed store raised (alone, or in trio's exception group)."""
    exc: BaseException = excinfo.value
    while isinstance(exc, BaseExceptionGroup):
        assert len(exc.exceptions) == 1, exc.exceptions
        exc = exc.exceptions[0]
    assert isinstance(exc, StoreError), exc
    return exc


async def test_a_deleted_database_stops_the_store_with_an_error_naming_it(root: Path) -> None:
    db = root / "jobs.db"
    with pytest.raises(BaseException) as caught, trio.fail_after(10):
        async with open_store(db, sweep_interval=0.1) as store:
            await store.add_job("j1", "t")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            await trio.sleep_forever()  # the store's maintenance notices and fails
    message = str(leaf_store_error(caught))
    assert str(db) in message
    assert "deleted" in message


async def test_a_replaced_database_stops_the_store_too(root: Path) -> None:
    db = root / "jobs.db"
    other = root / "other.db"
    connect(other).close()
    with pytest.raises(BaseException) as caught, trio.fail_after(10):
        async with open_store(db, sweep_interval=0.1) as store:
            await store.add_job("j1", "t")
            os.replace(other, db)
            await trio.sleep_forever()
    message = str(leaf_store_error(caught))
    assert str(db) in message
    assert "replaced" in message


async def test_a_store_whose_file_stays_in_place_keeps_running(root: Path) -> None:
    db = root / "jobs.db"
    with trio.fail_after(10):
        async with open_store(db, sweep_interval=0.05) as store:
            await store.add_job("j1", "t")
            await trio.sleep(0.5)  # ten maintenance rounds, each checking the file
            assert (await store.get_job("j1")) is not None


# -- permission denied, said as such -------------------------------------------------------------


def open_as_nobody(db: Path) -> str:
    """What opening ``db`` says to a user who may not write it (stderr of a child process,
    which drops to user nobody when the suite runs as root: root may write anything)."""
    code = (
        "import os, sys\n"
        "from statemachine_engine.persistence import connect\n"
        "from statemachine_engine.errors import StoreError\n"
        "import statemachine_engine.persistence._schema\n"
        f"if os.geteuid() == 0: os.setgid({NOBODY}); os.setuid({NOBODY})\n"
        "try:\n"
        "    connect(sys.argv[1]).execute('INSERT INTO jobs (job_id, job_type) VALUES (1, 1)')\n"
        "except StoreError as exc:\n"
        "    print(exc, file=sys.stderr)\n"
        "    sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr.strip()


def test_a_database_file_the_user_may_not_write_is_reported_as_such(root: Path) -> None:
    db = root / "jobs.db"
    connect(db).close()
    db.chmod(0o444)  # another user's file, or a read-only one
    message = open_as_nobody(db)
    assert message.startswith(f"permission denied: cannot open {db} for writing"), message
    assert "check that the path" not in message


def test_a_folder_the_user_may_not_write_is_reported_as_such(root: Path) -> None:
    folder = root / "locked"
    folder.mkdir(mode=0o755)
    message = open_as_nobody(folder / "jobs.db")
    assert message.startswith(f"permission denied: cannot create {folder / 'jobs.db'}"), message
    assert str(folder) in message
    assert not (folder / "jobs.db").exists()


# -- read-only commands on a database that does not exist ------------------------------------


READ_ONLY_COMMANDS = [
    ["list"],
    ["status"],
    ["details", "j1"],
    ["machine-state"],
    ["machine-status"],
    ["transition-history"],
    ["error-history"],
    ["list-events"],
    ["list-errors"],
    ["machine-health"],
    ["inbox"],
    ["outbox"],
    ["process-events", "worker"],
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda c: c[0])
def test_a_read_only_command_refuses_a_database_that_does_not_exist(
    root: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    db = root / "typo" / "pipline.db"
    assert db_main(["--db", str(db), *command]) == 1
    err = capsys.readouterr().err
    assert f"no database at {db}; check --db / $STATEMACHINE_DB" in err
    assert not (root / "typo").exists()  # neither the file nor its folder was made


def test_the_environment_variable_is_named_when_it_chose_the_path(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = root / "nothing.db"
    monkeypatch.setenv("STATEMACHINE_DB", str(db))
    assert db_main(["list"]) == 1
    assert f"no database at {db}; check --db / $STATEMACHINE_DB" in capsys.readouterr().err
    assert not db.exists()


def test_adding_a_job_still_creates_the_database(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = root / "fresh" / "jobs.db"
    assert db_main(["--db", str(db), "add-job", "j1", "--type", "t"]) == 0
    assert db.exists()
    assert db_main(["--db", str(db), "list"]) == 0
    assert "j1" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (1,)


@pytest.mark.slow
def test_statemachine_stops_with_the_reason_when_its_database_is_deleted(root: Path) -> None:
    (root / "hello.yaml").write_text(
        "metadata: {machine_name: hello}\n"
        "initial_state: waiting\n"
        "final_states: [stopped]\n"
        "states: [waiting, stopped]\n"
        "events: [stop]\n"
        "transitions:\n"
        '  - {from: "*", to: stopped, event: stop}\n'
        "actions:\n"
        "  waiting:\n"
        '    - {type: log, message: "waiting"}\n'
    )
    db = root / "data" / "machines.db"
    command = [sys.executable, "-m", "statemachine_engine.cli", str(root / "hello.yaml")]
    command += ["--db", str(db), "--control-socket-prefix", str(root / "ctl")]
    command += ["--event-socket-path", str(root / "ev.sock")]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=root) as proc:
        try:
            deadline = time.monotonic() + 30
            while not registered(db, "hello"):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the machine never registered"
                time.sleep(0.05)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            _, err = proc.communicate(timeout=30)  # maintenance runs every 5 s
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"statemachine: the database {db} was deleted"), err
    assert "Traceback" not in err


def registered(db: Path, name: str) -> bool:
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
            rows = conn.execute("SELECT 1 FROM machine_state WHERE machine_name = ?", (name,))
            return rows.fetchone() is not None
    except sqlite3.OperationalError:  # the schema is being created
        return False
