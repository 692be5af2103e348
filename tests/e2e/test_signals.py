"""A runtime's end, however it comes: SIGHUP cleans up as SIGTERM does, and a shell command
does not outlive a runtime killed with SIGKILL."""

from __future__ import annotations

import os
import signal

import pytest
import trio

from .conftest import Cluster, pid_alive

SLEEPER = """
metadata: {machine_name: sleeper}
initial_state: working
states: [working, done]
final_states: [done]
events: [finished]
transitions:
  - {from: working, to: done, event: finished}
actions:
  working:
    - type: bash
      command: "echo $$ > shell.pid; sleep 60 & echo $! > child.pid; wait"
      success: finished
"""


async def _pids(cluster: Cluster) -> list[int]:
    def read() -> list[int] | None:
        files = [cluster.root / "shell.pid", cluster.root / "child.pid"]
        if not all(f.exists() and f.read_text().strip() for f in files):
            return None
        return [int(f.read_text()) for f in files]

    pids: list[int] = await cluster.wait_db("the command's pids", read)
    return pids


@pytest.mark.slow
async def test_a_command_dies_with_a_runtime_killed_by_sigkill(cluster: Cluster) -> None:
    config = cluster.write("sleeper.yaml", SLEEPER)
    runtime = await cluster.start(config, "sleeper")
    pids = await _pids(cluster)
    cluster.extra_pids += pids  # killed by the teardown should this test fail
    assert all(pid_alive(pid) for pid in pids)
    runtime.send_signal(signal.SIGKILL)
    await runtime.wait()
    await cluster.wait_db(
        "the command and its child to be gone", lambda: not any(pid_alive(p) for p in pids)
    )


@pytest.mark.slow
async def test_a_command_put_in_the_background_keeps_running_after_it_ended(
    cluster: Cluster,
) -> None:
    config = cluster.write(
        "starter.yaml",
        SLEEPER.replace(
            "echo $$ > shell.pid; sleep 60 & echo $! > child.pid; wait",
            "echo $$ > shell.pid; sleep 60 > /dev/null 2>&1 & echo $! > child.pid",
        ),
    )
    runtime = await cluster.start(config, "sleeper")
    _, child = await _pids(cluster)
    cluster.extra_pids.append(child)
    assert await runtime.wait() == 0  # the machine finished
    await trio.sleep(0.5)
    assert pid_alive(child)  # a service started on purpose is not killed
    os.kill(child, signal.SIGKILL)


@pytest.mark.slow
async def test_sighup_stops_a_runtime_as_sigterm_does(cluster: Cluster) -> None:
    config = cluster.write("sleeper.yaml", SLEEPER)
    runtime = await cluster.start(config, "sleeper")
    pids = await _pids(cluster)
    cluster.extra_pids += pids
    runtime.send_signal(signal.SIGHUP)
    assert await runtime.wait() == 128 + signal.SIGHUP
    assert not os.path.exists(cluster.control_socket("sleeper"))
    assert cluster.registry("sleeper") is None
    await cluster.wait_db("the command to be gone", lambda: not any(pid_alive(p) for p in pids))
    await cluster.events.wait_for("sleeper", "machine_terminated", reason="stopped")
