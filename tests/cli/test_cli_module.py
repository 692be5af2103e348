"""``python -m statemachine_engine.cli CONFIG ...`` runs the ``statemachine`` command, as the
published package documents."""

from __future__ import annotations

import subprocess
import sys

from cli_support import Place


def test_python_m_cli_runs_a_machine_to_its_final_state(place: Place) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statemachine_engine.cli", str(place.quick), *place.flags()],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=place.root,
    )
    assert result.returncode == 0, result.stderr
    assert "[quick] start --finish--> done" in result.stderr
    assert place.registry() == []  # stopped cleanly: its registry row is gone


def test_python_m_cli_help_is_the_statemachine_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "statemachine_engine.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.startswith("usage: statemachine [-h]")
