"""The ``start_fsm`` action."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from statemachine_engine.errors import ConfigError, StateMachineError

if TYPE_CHECKING:
    from conftest import FakeHost, RunAction

BASE = {"type": "start_fsm", "yaml_path": "config/child.yaml", "machine_name": "child_{job_id}"}


async def test_spawns_in_process_child(run_action: RunAction, fake_host: FakeHost) -> None:
    context: dict[str, Any] = {"job_id": "job_001"}
    assert await run_action(BASE, context) == "success"
    [spawned] = fake_host.spawned
    assert (spawned.config_path, spawned.name, spawned.context) == (
        "config/child.yaml",
        "child_job_001",
        {},
    )
    assert (spawned.on_done, spawned.process) == (None, False)
    assert context["spawned_machines"] == ["child_job_001"]
    assert "spawned_pids" not in context


async def test_name_template_from_nested_job(run_action: RunAction, fake_host: FakeHost) -> None:
    config = {**BASE, "machine_name": "patient_record_{current_job.job_id}"}
    await run_action(config, {"current_job": {"job_id": "job_001"}})
    assert fake_host.spawned[0].name == "patient_record_job_001"


async def test_context_vars_forms(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    context: dict[str, Any] = {
        "job_id": "j1",
        "report_id": 0,
        "current_job": {"id": "j1", "data": {"path": "/in.png", "size": 3}},
        "empty": None,
    }
    config = {
        **BASE,
        "context_vars": [
            "report_id",
            "current_job.data.path",
            "current_job.id as parent_job",
            "current_job.data.size as sizes.input",
            "missing",
            "empty",
        ],
    }
    assert await run_action(config, context) == "success"
    assert fake_host.spawned[0].context == {
        "report_id": 0,
        "current_job": {"data": {"path": "/in.png"}},
        "parent_job": "j1",
        "sizes": {"input": 3},
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "[tester] start_fsm child_j1: context variable 'missing' not found, not passed on",
        "[tester] start_fsm child_j1: context variable 'empty' not found, not passed on",
    ]


async def test_single_context_var_string(run_action: RunAction, fake_host: FakeHost) -> None:
    await run_action({**BASE, "context_vars": "job_id"}, {"job_id": "j1"})
    assert fake_host.spawned[0].context == {"job_id": "j1"}


async def test_child_context_is_a_copy(run_action: RunAction, fake_host: FakeHost) -> None:
    data = {"tags": ["a"]}
    await run_action({**BASE, "context_vars": ["data"]}, {"job_id": "j1", "data": data})
    fake_host.spawned[0].context["data"]["tags"].append("changed by the child")
    assert data == {"tags": ["a"]}


async def test_initial_context_merged_over_context_vars(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    config = {
        **BASE,
        "context_vars": ["job_id", "mode"],
        "initial_context": {"mode": "fast", "limit": "{limit}"},
    }
    await run_action(config, {"job_id": "j1", "mode": "slow", "limit": 5})
    assert fake_host.spawned[0].context == {"job_id": "j1", "mode": "fast", "limit": 5}


async def test_initial_context_not_a_mapping_raises(run_action: RunAction) -> None:
    with pytest.raises(ValueError, match=r"start_fsm: initial_context must be a mapping, got list"):
        await run_action({**BASE, "initial_context": [1]}, {"job_id": "j1"})


async def test_on_done_process_and_custom_success(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    config = {**BASE, "on_done": "child_finished", "process": "yes", "success": "started"}
    assert await run_action(config, {"job_id": "j1"}) == "started"
    [spawned] = fake_host.spawned
    assert (spawned.on_done, spawned.process) == ("child_finished", True)


@pytest.mark.parametrize(("flag", "expected"), [("false", False), ("0", False), ("on", True)])
async def test_process_flag_is_bool_like(
    run_action: RunAction, fake_host: FakeHost, flag: str, expected: bool
) -> None:
    await run_action({**BASE, "process": flag}, {"job_id": "j1"})
    assert fake_host.spawned[0].process is expected


async def test_params_form(run_action: RunAction, fake_host: FakeHost) -> None:
    config = {
        "type": "start_fsm",
        "params": {
            "yaml_path": "child.yaml",
            "machine_name": "c1",
            "context_vars": ["x"],
            "on_done": "done",
            "success": "ok",
        },
    }
    assert await run_action(config, {"x": 1}) == "ok"
    [spawned] = fake_host.spawned
    assert (spawned.config_path, spawned.name, spawned.context, spawned.on_done) == (
        "child.yaml",
        "c1",
        {"x": 1},
        "done",
    )


async def test_returned_name_is_recorded(run_action: RunAction, fake_host: FakeHost) -> None:
    fake_host.spawn_name = "c1_renamed"
    context: dict[str, Any] = {"spawned_machines": ["c0"], "job_id": "j1"}
    await run_action(BASE, context)
    assert context["spawned_machines"] == ["c0", "c1_renamed"]


class _Registry:
    """A store stand-in answering registry reads only (start_fsm reads nothing else)."""

    def __init__(self, rows: Mapping[str, Mapping[str, Any]]) -> None:
        self.rows = rows

    async def machine(self, machine_name: str) -> Mapping[str, Any] | None:
        return self.rows.get(machine_name)

    async def machines(self) -> Sequence[Mapping[str, Any]]:
        return list(self.rows.values())


async def test_store_pid_in_process_child_appends_null(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    fake_host.store = _Registry({"child_j1": {"pid": 4242}})  # type: ignore[assignment]
    context: dict[str, Any] = {"job_id": "j1"}
    await run_action({**BASE, "store_pid": True}, context)
    assert context["spawned_pids"] == [None]


async def test_store_pid_process_child_reads_the_registry(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    fake_host.store = _Registry({"child_j1": {"pid": 4242}})  # type: ignore[assignment]
    context: dict[str, Any] = {"job_id": "j1", "spawned_pids": [1]}
    await run_action({**BASE, "store_pid": "true", "process": True}, context)
    assert context["spawned_pids"] == [1, 4242]


async def test_store_pid_process_child_without_registry_row(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {"job_id": "j1"}
    await run_action({**BASE, "store_pid": True, "process": True}, context)
    assert context["spawned_pids"] == [None]
    fake_host.store = _Registry({})  # type: ignore[assignment]
    await run_action({**BASE, "store_pid": True, "process": True}, context)
    assert context["spawned_pids"] == [None, None]


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ConfigError("child.yaml:3:1: error: $.states: bad"), "child.yaml:3:1"),
        (StateMachineError("a machine named 'child_j1' is already running"), "already running"),
        (ValueError("name taken"), "name taken"),
        (FileNotFoundError("no such file: config/child.yaml"), "no such file"),
        (LookupError("x"), "x"),
    ],
)
async def test_spawn_failure_is_the_error_event(
    run_action: RunAction, fake_host: FakeHost, error: BaseException, reason: str
) -> None:
    fake_host.spawn_error = error
    context: dict[str, Any] = {"job_id": "j1"}
    assert await run_action(BASE, context) == "error"
    assert context["last_error"].startswith("could not start child_j1 from config/child.yaml: ")
    assert reason in context["last_error"]
    assert context["last_error_action"] == "start_fsm"
    assert "spawned_machines" not in context
    assert await run_action({**BASE, "error": "spawn_failed"}, context) == "spawn_failed"


async def test_unresolved_name_is_the_error_event(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {}
    assert await run_action(BASE, context) == "error"
    assert context["last_error"] == (
        "could not start child_{job_id} from config/child.yaml: placeholder(s) not found in "
        "the context: job_id"
    )
    assert fake_host.spawned == []


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"machine_name": "c"}, r"start_fsm: the 'yaml_path' setting is required"),
        ({"yaml_path": "c.yaml"}, r"start_fsm: the 'machine_name' setting is required"),
        ({"yaml_path": "", "machine_name": "c"}, r"the 'yaml_path' setting is required"),
    ],
)
async def test_missing_required_keys_raise(
    run_action: RunAction, config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await run_action({"type": "start_fsm", **config})


async def test_additional_args_warn_for_in_process_children(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await run_action({**BASE, "additional_args": ["--debug"]}, {"job_id": "j1"})
    assert "additional_args only apply to a child started with 'process: true'" in caplog.text
    assert len(fake_host.spawned) == 1
