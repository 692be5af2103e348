"""``make demo``: it prints the database and control socket to use with ``statemachine-db``
first, and Ctrl-C (the project exits 130) ends it without a make error; any other failure of
the project is still make's error. Run with a stand-in ``statemachine`` in a fake venv."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: a stand-in for the project: waits, and exits 130 on SIGINT as ``statemachine run`` does
STAND_IN = """\
#!/bin/sh
trap 'exit 130' INT
echo "running $@"
[ -n "$EXIT" ] && exit "$EXIT"
echo ready > "$READY"
while :; do sleep 0.05; done
"""


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    folder = tmp_path / "venv"
    (folder / "bin").mkdir(parents=True)
    statemachine = folder / "bin" / "statemachine"
    statemachine.write_text(STAND_IN)
    statemachine.chmod(0o755)
    (folder / ".installed-stamp").touch()  # newer than pyproject.toml: nothing to install
    return folder


def make(venv: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["make", "-s", "--no-print-directory", "demo", f"VENV={venv}"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is missing")


@needs_make
def test_demo_prints_where_statemachine_db_looks_and_ctrl_c_is_no_error(
    venv: Path, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    proc = make(venv, READY=str(ready))
    try:
        deadline = 200
        while not ready.exists() and deadline and proc.poll() is None:
            deadline -= 1
            subprocess.run(["sleep", "0.05"], check=True)
        assert ready.exists(), proc.communicate(timeout=10)[0]
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    db = ROOT / "examples" / "demo" / "data" / "demo.db"
    assert f"Demo database: {db}\n" in out
    assert "Control socket: /tmp/statemachine-control-demo.sock\n" in out
    assert f"statemachine-db --db {db} list" in out
    assert "***" not in out and "Error" not in out and "Interrupt" not in out, out


@needs_make
def test_demo_fails_when_the_project_fails(venv: Path) -> None:
    proc = make(venv, EXIT="1")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "running run" in out and "Error 1" in out
