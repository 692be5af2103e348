"""The checker on configurations shaped like the published package's own examples, which it
used to refuse wrongly: placeholders a ``start_fsm`` parent fills (patient_records), the
``actions.base`` import (custom_actions), ``{primary|fallback}`` in bash commands, and a
``start_fsm`` path written relative to the project's root, checked from another folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine_engine.tools import Finding, lint_paths, lint_yaml

# patient_records as published: the controller claims a job and starts one worker per job
# with a path relative to the repository's root, passing the job's fields as context_vars
CONTROLLER = """\
name: Concurrent controller
initial_state: spawning
states: [spawning, waiting, stopped]
events: [worker_spawned, spawn_failed, stop]
transitions:
  - {from: spawning, to: waiting, event: worker_spawned}
  - {from: spawning, to: stopped, event: spawn_failed}
  - {from: "*", to: stopped, event: stop}
actions:
  spawning:
    - type: start_fsm
      yaml_path: examples/patient_records/config/patient-records.yaml
      machine_name: "patient_record_{current_job.job_id}"
      context_vars:
        - current_job.job_id as job_id
        - current_job.data.report_id as report_id
        - current_job.data.title as title
        - current_job.data.summary_text as summary_text
      store_pid: true
      success: worker_spawned
      error: spawn_failed
"""
WORKER = """\
name: Patient record worker
template: true
initial_state: summarizing
states: [summarizing, ready, shutdown]
events: [summary_complete, job_completed, stop]
transitions:
  - {from: summarizing, to: ready, event: summary_complete}
  - {from: ready, to: shutdown, event: job_completed}
  - {from: "*", to: shutdown, event: stop}
actions:
  summarizing:
    - type: log
      message: "Summarizing {report_id} ({title}): {summary_text}"
      success: summary_complete
  ready:
    - {type: complete_job, job_id: "{job_id}", success: job_completed}
"""


def _project(root: Path) -> tuple[Path, Path]:
    folder = root / "examples" / "patient_records" / "config"
    folder.mkdir(parents=True)
    controller = folder / "concurrent-controller.yaml"
    worker = folder / "patient-records.yaml"
    controller.write_text(CONTROLLER)
    worker.write_text(WORKER)
    return controller, worker


def _codes(findings: tuple[Finding, ...], *codes: str) -> list[Finding]:
    return [f for f in findings if f.code in codes]


def test_a_child_alone_knows_what_its_parent_beside_it_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, worker = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert _codes(lint_paths([worker]).findings, "P001") == []


def test_a_child_checked_with_its_parent_knows_what_it_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, worker = _project(tmp_path)
    monkeypatch.chdir(tmp_path)  # the repository's root, where the published README runs it
    result = lint_paths([controller, worker])
    assert _codes(result.findings, "P001", "X003") == []
    assert result.ok


def test_without_a_parent_the_same_placeholders_are_errors(tmp_path: Path) -> None:
    worker = tmp_path / "patient-records.yaml"
    worker.write_text(WORKER)
    found = _codes(lint_paths([worker]).findings, "P001")
    # (job_id is one of the runtime's own keys)
    assert sorted(f.message.split("}")[0] for f in found) == [
        "placeholder {report_id",
        "placeholder {summary_text",
        "placeholder {title",
    ]
    assert all(f.severity == "error" for f in found)
    assert "start_fsm context_vars" in (found[0].fix or "")


def test_a_parent_passing_other_keys_does_not_hide_a_missing_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, worker = _project(tmp_path)
    monkeypatch.chdir(tmp_path)
    worker.write_text(WORKER.replace("{summary_text}", "{summary}"))
    [finding] = _codes(lint_paths([worker]).findings, "P001")
    assert "{summary}" in finding.message and "did you mean 'summary_text'?" in finding.message


def test_a_path_from_the_root_checked_elsewhere_names_the_folders_and_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, _ = _project(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    [finding] = _codes(lint_paths([controller]).findings, "X003")
    assert finding.severity == "warning"
    assert f"the working folder {elsewhere}" in finding.message
    assert f"this config's folder {controller.parent}" in finding.message
    assert f"it is relative to {tmp_path}" in finding.message
    assert finding.fix == (
        f"start statemachine from {tmp_path}, or write yaml_path relative to this config: "
        "patient-records.yaml"
    )


def test_a_path_beside_the_parent_is_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, _ = _project(tmp_path)
    controller.write_text(
        CONTROLLER.replace(
            "examples/patient_records/config/patient-records.yaml", "patient-records.yaml"
        )
    )
    monkeypatch.chdir(tmp_path)
    assert _codes(lint_paths([controller]).findings, "X003") == []


def test_a_path_found_nowhere_is_an_error_naming_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    controller, worker = _project(tmp_path)
    worker.unlink()
    monkeypatch.chdir(tmp_path)
    [finding] = _codes(lint_paths([controller]).findings, "X003")
    assert finding.severity == "error"
    assert finding.message == (
        "start_fsm configuration 'examples/patient_records/config/patient-records.yaml' not "
        f"found: not in the working folder {tmp_path} nor in this config's folder "
        f"{controller.parent}"
    )


# custom_actions as published: the action imports BaseAction from actions.base
GREET_ACTION = """\
from statemachine_engine.actions.base import BaseAction


class GreetAction(BaseAction):
    async def execute(self, context):
        name = context.get("event_data", {}).get("payload", {}).get("name", "World")
        self.logger.info("Hello, %s!", name)
        return self.config.get("params", {}).get("success", "greeted")
"""
CUSTOM_WORKER = """\
initial_state: waiting
states: [waiting, greeting, completed]
events: [greet, greeted, stop]
transitions:
  - {from: waiting, to: greeting, event: greet}
  - {from: greeting, to: waiting, event: greeted}
  - {from: "*", to: completed, event: stop}
actions:
  greeting:
    - type: greet
      params: {success: greeted}
"""


def test_a_custom_action_importing_actions_base_loads(tmp_path: Path) -> None:
    actions = tmp_path / "actions"
    actions.mkdir()
    (actions / "greet_action.py").write_text(GREET_ACTION)
    config = tmp_path / "custom_worker.yaml"
    config.write_text(CUSTOM_WORKER)
    result = lint_paths([config], actions_dirs=[actions])
    assert _codes(result.findings, "A001", "A006") == []
    assert result.ok


FALLBACKS = """\
initial_state: waiting
final_states: [done]
states: [waiting, done]
events: [job_done]
known_context: [job_id]
transitions:
  - {from: waiting, to: done, event: job_done}
actions:
  waiting:
    - type: bash
      command: "echo Processing {job_id|id} into {output_path|job_id}"
"""


def test_primary_or_fallback_in_a_bash_command_is_no_unknown_filter() -> None:
    result = lint_yaml(FALLBACKS, "worker.yaml")
    assert _codes(result.findings, "P001", "P002") == []


def test_a_fallback_neither_of_whose_keys_is_ever_set_is_reported_once() -> None:
    text = FALLBACKS.replace("{output_path|job_id}", "{output_path|out_dir}")
    [finding] = _codes(lint_yaml(text, "worker.yaml").findings, "P001", "P002")
    assert finding.code == "P001" and finding.severity == "error"
    assert "{output_path|out_dir}" in finding.message
    assert "'output_path' or 'out_dir'" in finding.message
    assert finding.path == "$.actions.waiting[0].command"


def test_outside_a_bash_command_a_bar_is_still_a_filter() -> None:
    text = FALLBACKS.replace("type: bash\n      command:", "type: log\n      message:")
    found = _codes(lint_yaml(text, "worker.yaml").findings, "P002")
    assert sorted(f.message.split(" in ")[0] for f in found) == [
        "unknown filter 'id'",
        "unknown filter 'job_id'",
    ]


def test_a_filter_in_a_bash_command_stays_a_filter() -> None:
    text = FALLBACKS.replace("{output_path|job_id}", "{items|length} {job_id|default:none}")
    [finding] = _codes(lint_yaml(text, "worker.yaml").findings, "P001", "P002")
    assert finding.code == "P001" and "placeholder {items}:" in finding.message
