"""The ``bash`` action: quoting, exit codes, output, environment, and killing process groups."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trio

from statemachine_engine.actions import get_registry
from statemachine_engine.actions.builtin.bash_action import BashAction, context_env
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config_text
from statemachine_engine.transport import RecordingPublisher

if TYPE_CHECKING:
    from conftest import FakeHost, RunAction


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] != b"Z"


async def pid_from(path: Path) -> int:
    """Wait until the command wrote a PID into ``path``."""
    while True:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return int(text)
        await trio.sleep(0.01)


def bash(command: str, **keys: Any) -> dict[str, Any]:
    return {"type": "bash", "command": command, **keys}


def test_registered_and_command_kept_raw_for_shell_quoting() -> None:
    assert get_registry().get("bash") is BashAction
    assert BashAction.RAW_KEYS == ("command",)


async def test_success_captures_and_streams_output(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {}
    with trio.fail_after(10):
        event = await run_action(bash("echo hello; echo world; echo oops >&2"), context)
    assert event == "job_done"
    assert context["last_output"] == "hello\nworld"
    assert context["last_error_output"] == "oops"
    # the two streams are read concurrently: order is kept within each stream
    by_stream = {
        stream: [(a["message"], a["level"]) for a in fake_host.activities if a["stream"] == stream]
        for stream in ("stdout", "stderr")
    }
    assert by_stream == {
        "stdout": [("hello", "info"), ("world", "info")],
        "stderr": [("oops", "warning")],
    }
    assert "last_error" not in context


async def test_output_goes_to_the_log_at_info_thinned_like_transitions(
    run_action: RunAction, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="statemachine_engine.actions")
    # a unique command, so that counts from other tests do not mix in
    command = f"seq 1 6; echo 'done {id(caplog)}' >&2"
    with trio.fail_after(10):
        for _ in range(3):  # a polling loop running the same command again and again
            assert await run_action(bash(command)) == "job_done"
    lines = [r.getMessage() for r in caplog.records if " bash std" in r.getMessage()]
    assert lines[:2] == ["[tester] bash stdout: 1", "[tester] bash stdout: 2"]
    assert all(r.levelno == logging.INFO for r in caplog.records if " bash std" in r.getMessage())
    # the first 10 of the 21 lines, the 10th saying that thinning starts
    assert len(lines) == 10
    assert "from now on only every 1000th is logged" in lines[-1]


async def test_failure_sets_error_fields_and_returns_error(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {"current_job": {"id": "j1", "data": {}}}
    with trio.fail_after(10):
        event = await run_action(bash("echo partial; echo 'disk full' >&2; exit 3"), context)
    assert event == "error"
    # the published package's two lines: what failed, then the command
    assert context["last_error"] == (
        "Command failed (exit 3): disk full\nCommand: echo partial; echo 'disk full' >&2; exit 3"
    )
    assert context["last_error_action"] == "bash"
    assert context["last_error_command"] == "echo partial; echo 'disk full' >&2; exit 3"
    assert context["last_error_exit_code"] == 3
    assert context["last_output"] == "partial"
    assert context["current_job"] == {"id": "j1", "data": {}}  # kept, unlike upstream
    # recorded in the error history (and published), as a raising action would be
    assert fake_host.errors == [("bash", context["last_error"])]


@pytest.mark.parametrize("key", ["3", 3])
async def test_error_mappings_by_exit_code(run_action: RunAction, key: str | int) -> None:
    mappings = {key: "nothing_to_do", "4": "other"}
    with trio.fail_after(10):
        assert await run_action(bash("exit 3", error_mappings=mappings)) == "nothing_to_do"
        assert await run_action(bash("exit 5", error_mappings=mappings)) == "error"
        assert await run_action(bash("exit 5", error_mappings=mappings, error="failed")) == (
            "failed"
        )
        assert await run_action(bash("true", success="done")) == "done"


async def test_params_form_and_interpolated_keys(run_action: RunAction) -> None:
    context: dict[str, Any] = {"ok_event": "finished"}
    config = {"type": "bash", "params": {"command": "echo {ok_event}", "success": "{ok_event}"}}
    with trio.fail_after(10):
        assert await run_action(config, context) == "finished"
    assert context["last_output"] == "finished"


PAYLOADS = [
    "$(touch {x})",
    "; touch {x}",
    "`touch {x}`",
    "' ; touch {x} ; '",
    '" ; touch {x} ; "',
    "\\'; touch {x}; #",
    '\\"; touch {x}; #',
    "$(touch {x})'\"`",
    "a\nb; touch {x}",
    "| touch {x}",
    "&& touch {x} &&",
    "${{IFS}}touch${{IFS}}{x}",
    "{{x}} $HOME * ?",
]
POSITIONS = ["printf '%s' {p}", "printf '%s' '{p}'", "printf '%s' \"{p}\"", "printf '%s' x{p}y"]


@pytest.mark.parametrize("position", POSITIONS)
async def test_no_payload_can_inject_a_command(
    run_action: RunAction, tmp_path: Path, position: str
) -> None:
    target = tmp_path / "X"
    for template in PAYLOADS:
        payload = template.format(x=target)
        for context in (
            {"p": payload},
            # the same value reached through a received event and through job data
            {"event_data": {"payload": {"p": payload}}, "current_job": {"data": {}}},
            {"current_job": {"id": 1, "data": {"p": payload}}},
        ):
            with trio.fail_after(10):
                event = await run_action(bash(position), context)
            assert not target.exists(), (position, payload)
            assert event == "job_done", (position, payload, context.get("last_error"))
            expected = "x" + payload + "y" if position.endswith("x{p}y") else payload
            assert context["last_output"] == expected.rstrip("\n"), (position, payload)


async def test_placeholder_paths_and_fallbacks(run_action: RunAction, tmp_path: Path) -> None:
    target = tmp_path / "X"
    context: dict[str, Any] = {
        "event_data": {"payload": {"name": f"$(touch {target})"}},
        "present": "here",
    }
    command = "printf '%s|%s|%s' {event_data.payload.name} {missing|present} {nothing}"
    with trio.fail_after(10):
        assert await run_action(bash(command), context) == "job_done"
    assert context["last_output"] == f"$(touch {target})|here|{{nothing}}"
    assert not target.exists()


async def test_a_jobs_command_wins_over_the_yaml_one(run_action: RunAction) -> None:
    context: dict[str, Any] = {
        "current_job": {"id": 9, "data": {"command": "echo from {who}", "who": "job"}}
    }
    with trio.fail_after(10):
        assert await run_action(bash("echo from yaml"), context) == "job_done"
    assert context["last_output"] == "from job"


async def test_context_is_passed_as_prefixed_environment(run_action: RunAction) -> None:
    context: dict[str, Any] = {
        "job_id": "j-1",
        "count": 3,
        "ratio": 0.5,
        "flag": True,
        "nested": {"a": 1},
        "bad key": "x",
        "PATH": "/nowhere",
        "LD_PRELOAD": "/tmp/evil.so",
    }
    command = (
        'printf \'%s|%s|%s|%s|%s|%s|%s|%s\' "$SM_JOB_ID" "$SM_COUNT" "$SM_RATIO" '
        '"$SM_FLAG" "${SM_NESTED-unset}" "$SM_PATH" "${LD_PRELOAD-unset}" "$EXTRA"'
    )
    with trio.fail_after(10):
        event = await run_action(bash(command, env={"EXTRA": "{job_id}!"}), context)
    assert event == "job_done", context.get("last_error")
    assert context["last_output"] == "j-1|3|0.5|true|unset|/nowhere|unset|j-1!"
    assert context_env({"ok": "a\0b", "big": "x" * 40_000, "n": 1}) == {"SM_N": "1"}


async def test_output_is_bounded_and_streaming_is_rate_limited(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {}
    command = "i=0; while [ $i -lt 5000 ]; do echo line-$i-" + "x" * 33 + "; i=$((i+1)); done"
    with trio.fail_after(30):
        assert await run_action(bash(command), context) == "job_done"
    assert len(context["last_output"].encode()) <= 64 * 1024
    assert context["last_output"].endswith("line-4999-" + "x" * 33)
    streamed = [a for a in fake_host.activities if a.get("stream") == "stdout"]
    assert 100 <= len(streamed) < 300
    assert streamed[0]["message"] == "line-0-" + "x" * 33
    assert fake_host.activities[-1]["message"].endswith(
        "more output lines not shown (rate limit); the last 64 KiB are in last_output / "
        "last_error_output"
    )
    shown = int(fake_host.activities[-1]["message"].split()[0])
    assert shown + len(streamed) == 5000


async def test_timeout_kills_the_whole_group_even_a_grandchild_ignoring_sigterm(
    run_action: RunAction, tmp_path: Path
) -> None:
    pidfile = tmp_path / "pid"
    context: dict[str, Any] = {"pidfile": str(pidfile)}
    command = 'sh -c \'trap "" TERM; sleep 300 & echo $! > "$SM_PIDFILE"; wait\'; echo never'
    start = trio.current_time()
    with trio.fail_after(10):
        event = await run_action(bash(command, timeout=0.5), context)
    elapsed = trio.current_time() - start
    assert event == "error"
    assert context["last_error"] == f"Command timed out after 0.5 seconds\nCommand: {command}"
    assert context["last_error_exit_code"] is None
    pid = int(pidfile.read_text())
    assert not alive(pid)
    assert 0.5 <= elapsed < 3.0  # timeout + 1 s grace for SIGKILL, not timeout + 5 s


async def test_cancellation_kills_the_whole_group(run_action: RunAction, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    context: dict[str, Any] = {"pidfile": str(pidfile)}
    command = "sh -c 'sleep 300 & echo $! > \"$SM_PIDFILE\"; wait'"
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_action, bash(command), context)
            pid = await pid_from(pidfile)
            assert alive(pid)
            cancelled_at = trio.current_time()
            nursery.cancel_scope.cancel()
    assert trio.current_time() - cancelled_at < 1.0  # SIGTERM was enough: no grace wait
    assert not alive(pid)
    assert "last_output" not in context


async def test_background_service_with_detached_output_survives(
    run_action: RunAction, tmp_path: Path
) -> None:
    """``cmd > log 2>&1 &`` starts something on purpose; only timeout/cancel kill."""
    pidfile = tmp_path / "pid"
    command = "sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}"
    with trio.fail_after(10):
        assert await run_action(bash(command), {"pidfile": str(pidfile)}) == "job_done"
    pid = int(pidfile.read_text())
    try:
        assert alive(pid)
    finally:
        os.kill(pid, 9)


@pytest.mark.parametrize(
    ("keys", "error"),
    [
        ({"timeout": "soon"}, "bash: timeout must be a positive number of seconds, got 'soon'"),
        ({"timeout": 0}, "bash: timeout must be a positive number of seconds, got 0"),
        ({"error_mappings": ["3"]}, "bash: error_mappings must map exit codes to events"),
        ({"env": {"1BAD": "x"}}, "bash: env: '1BAD' is not a valid variable name"),
        ({"command": None}, "bash: no 'command' to run"),
    ],
)
async def test_configuration_mistakes_are_named(
    run_action: RunAction, keys: dict[str, Any], error: str
) -> None:
    context: dict[str, Any] = {}
    assert await run_action({**bash("true"), **keys}, context) == "error"
    assert context["last_error"].startswith(error)
    assert context["last_error_action"] == "bash"


MACHINE = """
name: runner
initial_state: idle
states: [idle, running, aborted, done]
transitions:
  - {from: idle, to: running, event: run}
  - {from: running, to: done, event: job_done}
  - {from: running, to: aborted, event: abort}
actions:
  running:
    - type: bash
      command: >-
        printf '%s' {event_data.payload.n};
        sh -c 'sleep 300 & echo $! > "$1"; wait' _ {pidfile}
      timeout: 60
"""


async def test_in_a_runtime_payloads_are_quoted_and_leaving_the_state_kills_the_group(
    tmp_path: Path,
) -> None:
    target = tmp_path / "X"
    pidfile = tmp_path / "pid"
    publisher = RecordingPublisher()
    with trio.fail_after(20):
        async with open_runtime(publisher=publisher) as runtime:
            ref = await runtime.spawn(
                load_config_text(MACHINE), name="runner", context={"pidfile": str(pidfile)}
            )
            await ref.send("run", {"n": f"$(touch {target}); touch {target}"})
            pid = await pid_from(pidfile)
            await ref.send("abort")
            await ref.wait_state("aborted")
            assert not alive(pid)
    assert not target.exists()
    lines = [e.payload["message"] for e in publisher.of_type("activity_log")]
    assert any(f"$(touch {target}); touch {target}" in line for line in lines)


async def test_a_failure_is_a_bash_failure_whatever_the_action_is_registered_as(
    fake_host: FakeHost,
) -> None:
    # a subclass under a type of its own, or the class built without a ``type`` key
    context: dict[str, Any] = {"machine_name": "m"}
    action = BashAction({"type": "my_shell", "command": "exit 4"})
    action.host = fake_host
    with trio.fail_after(10):
        assert await action.execute(context) == "error"
    assert context["last_error_action"] == "bash"
    assert fake_host.errors == [("bash", "Command failed (exit 4): \nCommand: exit 4")]
