"""``--db postgresql://...`` on every command: a URL is taken where a path is, and a wrong URL
or a server that is not there is one line and exit status 1, never showing the password.

The refused connections use a port nobody listens on; the working path uses the suite's
throwaway server (``pg_url``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from statemachine_engine.cli import _db_common
from statemachine_engine.cli._db import build_parser
from statemachine_engine.cli._db import main as db_main
from statemachine_engine.errors import StoreError
from statemachine_engine.service import load_manifest

SECRET = "s3cret-pw"
BIN = Path(sys.executable).parent

MACHINE = """\
metadata: {machine_name: quick}
initial_state: start
final_states: [done]
states: [start, done]
events: [finish]
transitions:
  - {from: start, to: done, event: finish}
"""


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the test runs


@pytest.fixture
def refused_url(closed_port: int) -> str:
    return f"postgresql://app:{SECRET}@127.0.0.1:{closed_port}/jobs"


@pytest.fixture
def in_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test runs in an empty folder: a URL taken for a file path would show up here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STATEMACHINE_DB", raising=False)
    (tmp_path / "quick.yaml").write_text(MACHINE)
    yield tmp_path


def assert_one_line_refusal(err: str, prefix: str, port: int) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    assert f"127.0.0.1:{port}" in lines[0] and "refused" in lines[0], err
    assert SECRET not in err


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, **kwargs)  # type: ignore[call-overload]


# -- statemachine-db ----------------------------------------------------------------------


def test_statemachine_db_says_it_takes_a_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert db_main(["--help"]) == 0
    assert "postgresql://" in capsys.readouterr().out
    assert db_main(["list", "--help"]) == 0
    assert "postgresql://" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command",
    [["status"], ["list"], ["add-job", "a", "--type", "t"], ["machine-state"], ["inbox"]],
    ids=lambda argv: argv[0],
)
def test_statemachine_db_refused_is_one_line(
    command: list[str],
    refused_url: str,
    closed_port: int,
    in_folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert db_main(["--db", refused_url, *command]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_refusal(captured.err, f"statemachine-db {command[0]}: error: ", closed_port)
    assert sorted(p.name for p in in_folder.iterdir()) == ["quick.yaml"]  # no file made


def test_statemachine_db_takes_the_url_from_the_environment(
    refused_url: str,
    closed_port: int,
    in_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("STATEMACHINE_DB", refused_url)
    assert db_main(["status"]) == 1
    assert_one_line_refusal(capsys.readouterr().err, "statemachine-db status: error: ", closed_port)


def test_statemachine_db_a_bad_url_is_one_line(
    in_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = f"postgresql://app:{SECRET}@127.0.0.1:notaport/jobs"
    assert db_main(["--db", bad, "status"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("statemachine-db status: error: ")
    assert SECRET not in err


def test_statemachine_db_never_prints_the_password_of_its_url(
    refused_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # whatever says the URL (here an error quoting it whole), the password is masked
    def refuse(path: str, **_: object) -> None:
        raise StoreError(f"cannot open {path}")

    monkeypatch.setattr(_db_common, "connect_postgres", refuse)
    assert db_main(["--db", refused_url, "status"]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"statemachine-db status: error: cannot open {refused_url.replace(SECRET, '***')}\n"
    )


def test_statemachine_db_works_on_postgresql(
    pg_url: str, in_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert db_main(["--db", pg_url, "add-job", "job-1", "--type", "render"]) == 0
    capsys.readouterr()
    assert db_main(["--db", pg_url, "details", "job-1", "--format", "json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert (job["job_id"], job["job_type"], job["status"]) == ("job-1", "render", "pending")
    assert db_main(["--db", pg_url, "status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["database"] == pg_url and status["jobs"]["pending"] == 1
    # in the server's database, not in a file named after the URL
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT job_id, status FROM jobs").fetchall()
    assert rows == [("job-1", "pending")]
    assert sorted(p.name for p in in_folder.iterdir()) == ["quick.yaml"]


#: every subcommand but send-event (its delivery across hosts is the store's, tested there)
#: in an order that gives each something to act on
EVERY_SUBCOMMAND = [
    ["add-job", "j1", "--type", "t"],
    ["add-job", "j2", "--type", "t", "--priority", "1"],
    ["add-job", "j3", "--type", "t"],
    ["status"],
    ["list"],
    ["details", "j1"],
    ["complete-job", "j1"],
    ["fail-job", "j2", "--reason", "broken"],
    ["retry", "j2"],
    ["requeue", "j2"],  # pending, not processing: refused (exit 1), after reading it there
    ["cancel", "j3"],
    ["cleanup", "--status", "completed"],
    ["reset-processing", "--force"],
    ["remove-job", "j3"],
    ["list-events"],
    ["process-events", "m"],
    ["cleanup-events"],
    ["machine-state"],
    ["machine-status"],
    ["inbox"],
    ["outbox"],
    ["transition-history"],
    ["error-history"],
    ["list-errors"],
    ["machine-health"],
    ["forget-machine", "m"],  # nothing registered: refused (exit 1), after reading it there
    ["audit"],
    ["recreate-database", "--force"],
]


#: the subcommands of the run that are refused, and what they say
REFUSED = {
    "requeue": "statemachine-db requeue: error: job j2 is pending, not processing\n",
    "forget-machine": "statemachine-db forget-machine: error: no machine named 'm' is registered\n",
}


def test_the_postgresql_run_covers_every_subcommand() -> None:
    assert {argv[0] for argv in EVERY_SUBCOMMAND} | {"send-event"} == set(build_parser().commands)


def test_every_statemachine_db_subcommand_runs_on_postgresql(
    pg_url: str, in_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in EVERY_SUBCOMMAND:
        code = db_main(["--db", pg_url, *command])
        captured = capsys.readouterr()
        if command[0] in REFUSED:
            assert (code, captured.err) == (1, REFUSED[command[0]])
        else:
            assert (code, captured.err) == (0, ""), command
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (0,)  # recreated
    assert sorted(p.name for p in in_folder.iterdir()) == ["quick.yaml"]


# -- statemachine, statemachine run, statemachine-ui --------------------------------------


def test_statemachine_refused_is_one_line(
    refused_url: str, closed_port: int, in_folder: Path
) -> None:
    done = run([str(BIN / "statemachine"), "quick.yaml", "--db", refused_url])
    assert done.returncode == 1
    assert_one_line_refusal(done.stderr, "statemachine: ", closed_port)


def test_statemachine_takes_the_url_from_the_environment(
    refused_url: str, closed_port: int, in_folder: Path
) -> None:
    env = {**os.environ, "STATEMACHINE_DB": refused_url}
    done = run([str(BIN / "statemachine"), "quick.yaml"], env=env)
    assert done.returncode == 1
    assert_one_line_refusal(done.stderr, "statemachine: ", closed_port)


@pytest.mark.parametrize("where", ["flag", "manifest"])
def test_statemachine_run_refused_is_one_line(
    where: str, refused_url: str, closed_port: int, in_folder: Path
) -> None:
    manifest = "machines:\n  - config: quick.yaml\nmonitor: false\n"
    argv = [str(BIN / "statemachine"), "run"]
    if where == "flag":
        argv += ["--db", refused_url]
    else:
        manifest += f"db: {refused_url}\n"
    (in_folder / "statemachine-project.yaml").write_text(manifest)
    done = run(argv)
    assert done.returncode == 1
    assert_one_line_refusal(done.stderr, "statemachine run: ", closed_port)
    assert SECRET not in done.stdout


def test_a_manifest_keeps_a_url_as_it_is(in_folder: Path) -> None:
    url = "postgresql://app@db.example:5432/jobs"
    (in_folder / "statemachine-project.yaml").write_text(
        f"db: {url}\nmachines:\n  - config: quick.yaml\n"
    )
    assert load_manifest(str(in_folder / "statemachine-project.yaml")).db == url


def test_statemachine_ui_refused_is_one_line(
    refused_url: str, closed_port: int, in_folder: Path
) -> None:
    done = run(
        [str(BIN / "statemachine-ui"), "--db", refused_url, "--port", "0", "--websocket-port", "0"]
    )
    assert done.returncode == 1
    assert_one_line_refusal(done.stderr, "statemachine-ui: ", closed_port)
