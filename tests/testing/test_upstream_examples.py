"""The published README's YAML snippets (tests/fixtures/upstream) run through the simulator."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from statemachine_engine.testing import ScheduledEvent, simulate

STUB_BASH = '''
from statemachine_engine.actions import BaseAction


class BashAction(BaseAction):
    """Stands in for bash: reports the command instead of running it."""

    async def execute(self, context):
        self.host.log_activity(f"would run: {self.get_config_value('command')}")
        return self.event("success", "job_done")
'''

VOICE_ACTIONS = {
    "yamlgraph_action.py": """
from statemachine_engine.actions import BaseAction


class YamlgraphAction(BaseAction):
    async def execute(self, context):
        self.host.log_activity(f"classifying: {self.get_config_value('input_value')}")
        return "classified"
""",
    "ninchat_send_action.py": """
from statemachine_engine.actions import BaseAction


class NinchatSendAction(BaseAction):
    async def execute(self, context):
        self.host.log_activity(f"to ninchat: {self.get_config_value('text')}")
        return "sent"
""",
}


def actions_dir(root: Path, files: dict[str, str]) -> Path:
    folder = root / "actions"
    folder.mkdir()
    for name, source in files.items():
        (folder / name).write_text(textwrap.dedent(source))
    return folder


def activity(result, machine: str) -> list[tuple[float, str, str]]:  # type: ignore[no-untyped-def]
    return [
        (e.timestamp, e.payload["level"], e.payload["message"])
        for e in result.events
        if e.type == "activity_log" and e.machine_name == machine
    ]


TIMEOUT_EVENTS = [
    ScheduledEvent(1, "timeout_worker", "start_work"),
    ScheduledEvent(17, "timeout_worker", "start_work"),
    ScheduledEvent(18, "timeout_worker", "work_done"),
]


def test_timeout_demo(upstream: Path, tmp_path: Path) -> None:
    stub = actions_dir(tmp_path, {"bash_action.py": STUB_BASH})  # overrides the built-in
    result = simulate(
        [upstream / "timeout_worker.yaml"], TIMEOUT_EVENTS, until=30, actions_dir=stub
    )
    assert result.to_jsonl() == (
        '{"t": 1.0, "machine": "timeout_worker", "from": "waiting", "to": "processing",'
        ' "event": "start_work"}\n'
        '{"t": 11.0, "machine": "timeout_worker", "from": "processing", "to": "timed_out",'
        ' "event": "timeout(10)"}\n'
        '{"t": 11.0, "machine": "timeout_worker", "from": "timed_out", "to": "waiting",'
        ' "event": "retry"}\n'
        '{"t": 16.0, "machine": "timeout_worker", "from": "waiting", "to": "timed_out",'
        ' "event": "timeout(5)"}\n'
        '{"t": 16.0, "machine": "timeout_worker", "from": "timed_out", "to": "waiting",'
        ' "event": "retry"}\n'
        '{"t": 17.0, "machine": "timeout_worker", "from": "waiting", "to": "processing",'
        ' "event": "start_work"}\n'
        '{"t": 18.0, "machine": "timeout_worker", "from": "processing", "to": "completed",'
        ' "event": "work_done"}\n'
        '{"t": 18.0, "machine": "timeout_worker", "final_state": "completed"}\n'
    )
    timeout_line = "⏰ TIMEOUT! Operation took too long"
    assert activity(result, "timeout_worker") == [
        (11.0, "warning", timeout_line),
        (11.0, "info", "would run: sleep 3 && echo 'Retrying...'"),
        (16.0, "warning", timeout_line),
        (16.0, "info", "would run: sleep 3 && echo 'Retrying...'"),
    ]


PROGRAM = "from statemachine_engine.cli._statemachine import main; raise SystemExit(main())"


@pytest.mark.slow
def test_timeout_demo_with_real_bash_from_the_cli_twice(upstream: Path, tmp_path: Path) -> None:
    shutil.copy(upstream / "timeout_worker.yaml", tmp_path)
    (tmp_path / "events.yaml").write_text("- {at: 1, target: timeout_worker, type: start_work}\n")
    argv = [sys.executable, "-c", PROGRAM, "simulate", "timeout_worker.yaml"]
    argv += ["--events", "events.yaml", "--until", "12", "--format", "json"]
    runs = [
        subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=60, check=True).stdout
        for _ in range(2)
    ]
    # bash really sleeps 3 s, but real work takes no virtual time: retry is still at t=11
    assert (
        runs[0]
        == runs[1]
        == (
            b'{"t": 1.0, "machine": "timeout_worker", "from": "waiting", "to": "processing",'
            b' "event": "start_work"}\n'
            b'{"t": 11.0, "machine": "timeout_worker", "from": "processing", "to": "timed_out",'
            b' "event": "timeout(10)"}\n'
            b'{"t": 11.0, "machine": "timeout_worker", "from": "timed_out", "to": "waiting",'
            b' "event": "retry"}\n'
            b'{"t": 12.0, "machine": "timeout_worker", "final_state": "waiting",'
            b' "running": true}\n'
        )
    )


def test_context_map_example(upstream: Path, tmp_path: Path) -> None:
    custom = actions_dir(tmp_path, VOICE_ACTIONS)
    events = tmp_path / "events.yaml"
    events.write_text(
        textwrap.dedent(
            """\
            - {at: 1, target: voice_coordinator, type: incoming_call,
               payload: {call_sid: CA42, caller: "+358 40 123"}}
            - {at: 2, target: voice_coordinator, type: transcribed,
               payload: {user_utterance: book a table for two}}
            - {at: 3, target: voice_coordinator, type: speak_done}
            - {at: 4, target: voice_coordinator, type: hangup}
            """
        )
    )
    result = simulate([upstream / "voice_coordinator.yaml"], events, actions_dir=custom)
    trace = [(t.t, t.from_state, t.event, t.to_state) for t in result.transitions]
    assert trace == [
        (1.0, "waiting", "incoming_call", "in_call"),
        (2.0, "in_call", "transcribed", "classifying"),
        (2.0, "classifying", "classified", "speaking"),
        (3.0, "speaking", "speak_done", "forwarding_to_ninchat"),
        (3.0, "forwarding_to_ninchat", "sent", "in_call"),
        (4.0, "in_call", "hangup", "completed"),
    ]
    assert dict(result.final_states) == {"voice_coordinator": (4.0, "completed")}
    # the utterance survives speak_done, which replaced event_data
    assert activity(result, "voice_coordinator") == [
        (2.0, "info", "classifying: book a table for two"),
        (3.0, "info", "to ninchat: book a table for two"),
    ]


def test_quick_start_worker(upstream: Path) -> None:
    result = simulate(
        [upstream / "my_worker.yaml"], [ScheduledEvent(1, "my_worker", "new_job")], until=5
    )
    assert result.to_jsonl() == (
        '{"t": 1.0, "machine": "my_worker", "from": "waiting", "to": "processing",'
        ' "event": "new_job"}\n'
        '{"t": 5.0, "machine": "my_worker", "final_state": "processing",'
        ' "running": true}\n'
    )
    # the transition's bash action really ran (its success event is ignored on a transition)
    assert activity(result, "my_worker") == [(1.0, "info", "Processing job")]
    assert [e for e in result.events if e.type == "error"] == []
