"""A007: a setting written in the YAML that the action would refuse at every run is an
error at its line -- for the built-ins, and for custom actions that declare ``CHECKS``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from statemachine_engine.tools import lint_paths

RETRY_ACTION = """
from statemachine_engine.actions import BaseAction


def read_retries(action):
    value = action.get_config_value("retries", 3)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"retries: expected a whole number >= 0, got {value!r}")
    return value


class RetryAction(BaseAction):
    KEYS = ("retries",)
    CHECKS = {"retries": read_retries}

    async def execute(self, context):
        context["retries"] = read_retries(self)
        return "done"
"""

MACHINE = """\
initial_state: a
states: [a, b, c, d, end]
events: [done]
final_states: [end]
known_context: [n]
transitions:
  - {{from: a, to: b, event: done}}
  - {{from: b, to: c, event: done}}
  - {{from: c, to: d, event: done}}
  - {{from: d, to: end, event: done}}
actions:
  a: [{{type: retry, retries: {a}}}]
  b: [{{type: retry, params: {{retries: {b}}}}}]
  c: [{{type: retry, retries: "{{n}}"}}]
  d: [{{type: check_database_queue, prefetch: {d}, success: done, empty: done}}]
"""


def write(tmp_path: Path, a: str, b: str, d: str) -> tuple[Path, Path]:
    actions = tmp_path / "actions"
    actions.mkdir(exist_ok=True)
    (actions / "retry_action.py").write_text(RETRY_ACTION)
    config = tmp_path / "m.yaml"
    config.write_text(MACHINE.format(a=a, b=b, d=d))
    return config, actions


def test_bad_values_are_errors_at_their_key_and_good_or_placeholder_ones_pass(
    tmp_path: Path,
) -> None:
    config, actions = write(tmp_path, a="-1", b="many", d="1000")
    result = lint_paths([config], actions_dirs=[actions])
    found = [(f.line, f.path, f.message) for f in result.findings if f.code == "A007"]
    assert found == [
        (
            12,
            "$.actions.a[0].retries",
            "retry action: retries: expected a whole number >= 0, got -1",
        ),
        (
            13,
            "$.actions.b[0].params.retries",
            "retry action: retries: expected a whole number >= 0, got 'many'",
        ),
        (
            15,
            "$.actions.d[0].prefetch",
            "check_database_queue action: prefetch: expected a whole number from 0 to 256, "
            "got 1000",
        ),
    ]
    config, actions = write(tmp_path, a="0", b="5", d="64")
    assert [
        f for f in lint_paths([config], actions_dirs=[actions]).findings if f.code == "A007"
    ] == []


def test_the_command_does_not_start_a_machine_with_one(tmp_path: Path) -> None:
    config, actions = write(tmp_path, a="-1", b="5", d="64")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "statemachine_engine.cli",
            str(config),
            "--actions-dir",
            str(actions),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        timeout=60,
    )
    assert done.returncode == 1
    assert "A007" in done.stderr and "retries: expected a whole number >= 0, got -1" in done.stderr
    assert "nothing started" in done.stderr
