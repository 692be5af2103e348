"""The published package's module layout keeps working: ``actions.base``, the built-in
classes from ``actions.builtin``, ``statemachine_engine.database`` for scripts, and
``StateMachineEngine.process_event``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import trio

from statemachine_engine.actions import BaseAction, get_registry
from statemachine_engine.core.engine import StateMachineEngine
from statemachine_engine.errors import DuplicateJob

CUSTOM = """\
from statemachine_engine.actions.base import BaseAction


class MultiplyAction(BaseAction):
    async def execute(self, context):
        context["product"] = 6 * 7
        return "done"
"""


def test_actions_base_is_the_base_class(tmp_path: Path) -> None:
    from statemachine_engine.actions.base import BaseAction as FromBase

    assert FromBase is BaseAction
    (tmp_path / "multiply_action.py").write_text(CUSTOM)
    cls = get_registry(tmp_path).get("multiply")
    assert issubclass(cls, BaseAction)


def test_builtin_classes_are_reexported_as_the_runtime_uses_them() -> None:
    from statemachine_engine.actions import builtin

    registry = get_registry(None)
    for action_type in builtin.BUILTIN_ACTIONS:
        cls = registry.get(action_type)
        assert getattr(builtin, cls.__name__) is cls
    from statemachine_engine.actions.builtin import BashAction, LogAction

    assert registry.get("bash") is BashAction
    # activity_log is log plus the published package's row and 'continue'
    assert issubclass(registry.get("activity_log"), LogAction)


def test_database_module_enqueues_and_inspects_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from statemachine_engine.database import Database, get_job_model

    monkeypatch.setenv("STATEMACHINE_DB", str(tmp_path / "env.db"))
    jobs = get_job_model()
    assert jobs.db.db_path == str(tmp_path / "env.db")
    row_id = jobs.create_job("job_001", "task", data={"n": 1}, priority=3)
    jobs.create_job("job_002", "task", machine_type="other")
    assert isinstance(row_id, int)
    with pytest.raises(DuplicateJob):
        jobs.create_job("job_001", "task")

    job = jobs.get_job("job_001")
    assert job is not None
    assert (job["status"], job["data"], job["machine_type"], job["priority"]) == (
        "pending",
        {"n": 1},
        "task",
        3,
    )
    assert [j["job_id"] for j in jobs.get_pending_jobs(machine_type="task")] == ["job_001"]
    assert jobs.count_jobs() == 2
    assert jobs.count_jobs(status="pending") == 2

    claimed = jobs.get_next_job(job_type="task", machine_type="task")
    assert claimed is not None and claimed["job_id"] == "job_001"
    assert claimed["status"] == "processing"
    assert jobs.get_next_job(machine_type="task") is None
    assert jobs.claim_job("job_001") is False
    assert jobs.claim_job("job_002") is True
    assert jobs.complete_job("job_001", result={"ok": True}) is True
    assert jobs.fail_job("job_002", "broken input") is True
    assert jobs.complete_job("nope") is False

    assert {j["job_id"]: j["status"] for j in jobs.list_jobs()} == {
        "job_001": "completed",
        "job_002": "failed",
    }
    assert jobs.count_jobs(status="failed") == 1
    latest = jobs.get_latest_job_by_type("task")
    assert latest is not None and latest["job_id"] == "job_002"
    assert Database(tmp_path / "other.db").db_path == str(tmp_path / "other.db")


def test_database_module_stays_free_of_trio() -> None:
    code = "import sys, statemachine_engine.database; print('trio' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


WORKER = """\
metadata: {machine_name: worker}
initial_state: waiting
final_states: [completed]
transitions:
  - {from: waiting, to: processing, event: new_job}
  - {from: processing, to: completed, event: done}
"""


async def test_process_event_says_whether_a_transition_fires(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    (tmp_path / "worker.yaml").write_text(WORKER)
    engine = StateMachineEngine()
    await engine.load_config(tmp_path / "worker.yaml")
    with pytest.raises(RuntimeError, match="the machine is not running"):
        await engine.process_event("new_job")
    results: list[bool] = []
    async with trio.open_nursery() as nursery:

        async def feed() -> None:
            while not engine.is_running:
                await trio.sleep(0.01)
            results.append(await engine.process_event("done"))
            results.append(await engine.process_event("new_job", {"job": 7}))
            while engine.current_state != "processing":
                await trio.sleep(0.01)
            results.append(await engine.process_event("done"))

        nursery.start_soon(feed)
        assert await engine.execute_state_machine() == "completed"
    assert results == [False, True, True]
    assert engine.context["job"] == 7


def test_the_published_top_level_names_resolve() -> None:
    import statemachine_engine
    from statemachine_engine.database import Database, JobModel

    assert statemachine_engine.Database is Database
    assert statemachine_engine.JobModel is JobModel
