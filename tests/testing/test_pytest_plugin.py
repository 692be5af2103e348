"""The pytest plugin as a user would enable it, in a project of their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

USER_TEST = """
import trio
from statemachine_engine.config import load_config


async def test_my_worker_times_out(sm_runtime, machine_events, autojump_clock):
    worker = await sm_runtime.spawn(load_config("worker.yaml"))
    await worker.send("go")
    await worker.wait_state("gave_up")
    assert trio.current_time() == 30.0
    changes = [e.payload["to_state"] for e in machine_events.of_type("state_change")]
    assert changes == ["working", "gave_up"]
    assert sm_runtime.store is not None  # an in-memory store comes with the runtime
"""

WORKER = """
metadata: {machine_name: worker}
transitions:
  - {from: waiting, to: working, event: go}
  - {from: working, to: gave_up, event: timeout(30)}
"""


def test_a_users_project_tests_its_machine_with_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["statemachine_engine.testing.pytest_plugin"]\n'
    )
    (tmp_path / "worker.yaml").write_text(WORKER)
    (tmp_path / "test_worker.py").write_text(textwrap.dedent(USER_TEST))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_worker.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
