"""Two runtimes on one database cannot run machines of the same name: the second is refused
with who holds the name; a row left by a process that died is taken over."""

from __future__ import annotations

import signal

import pytest

from .conftest import Cluster

SWITCH = """
initial_state: waiting
states: [waiting, working, stopped]
events: [go, stop]
transitions:
  - {from: waiting, to: working, event: go}
  - {from: "*", to: stopped, event: stop}
"""


@pytest.mark.slow
async def test_a_second_runtime_for_a_running_name_is_refused(cluster: Cluster) -> None:
    config = cluster.write("switch.yaml", SWITCH)
    first = await cluster.start(config, "controller")
    await cluster.wait_db("the registry row", lambda: cluster.registry("controller"))
    # another socket (as a project's runtime has): only the registry knows the name is taken
    other = str(cluster.sock_dir / "other")
    second = await cluster.start(
        cluster.write("other.yaml", SWITCH),
        "controller",
        "--control-socket-prefix",
        other,
        ready=False,
    )
    assert await second.wait() == 1
    out = second.output()
    assert f"a machine named 'controller' is already running in process {first.pid}" in out
    assert "Traceback" not in out
    assert cluster.registry("controller")["pid"] == first.pid  # the first one is untouched

    first.send_signal(signal.SIGKILL)  # its row stays behind, stale
    await first.wait()
    third = await cluster.start(config, "controller")
    row = await cluster.wait_db(
        "the new row",
        lambda: (r := cluster.registry("controller")) and r["pid"] == third.pid and r,
    )
    assert row["current_state"] == "waiting"
    third.send_signal(signal.SIGTERM)
    await third.wait()
