"""The collector's passes are spaced out while a machine process starts; once its machine
runs, the process frees the start's garbage, freezes what survives (the collector then only
looks at what the machine allocates) and puts the thresholds back; the freeze ends with the
run, so a caller that runs it in-process gets its collector back as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from statemachine_engine import _collector
from statemachine_engine.cli import _statemachine
from statemachine_engine.cli._statemachine import main
from statemachine_engine.service import _machine_process

#: logs once, then reaches its final state: the run returns at once
QUICK = """\
metadata: {machine_name: quick}
initial_state: start
final_states: [done]
states: [start, done]
events: [finish]
transitions:
  - {from: start, to: done, event: finish}
actions:
  start:
    - {type: log, message: "starting", success: finish}
"""


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_collects_the_garbage_and_freezes_the_rest(unfrozen: None) -> None:
    Cycle()  # unreachable, kept alive only by its own cycle
    assert any(isinstance(o, Cycle) for o in gc.get_objects())
    _machine_process._settle()
    assert not any(isinstance(o, Cycle) for o in gc.get_objects())
    assert gc.get_freeze_count() > 0


def test_a_run_freezes_while_the_machine_runs_and_unfreezes_after(
    unfrozen: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = tmp_path / "quick.yaml"
    config.write_text(QUICK)
    frozen_while_running: list[int] = []
    settle = _machine_process._settle

    def watched() -> None:
        settle()
        frozen_while_running.append(gc.get_freeze_count())

    monkeypatch.setattr(_machine_process, "_settle", watched)
    flags = ["--db", str(tmp_path / "m.db"), "--control-socket-prefix", str(tmp_path / "c")]
    flags += ["--event-socket-path", str(tmp_path / "e.sock")]
    assert main([str(config), *flags]) == 0
    assert len(frozen_while_running) == 1 and frozen_while_running[0] > 0
    assert gc.get_freeze_count() == 0


def test_the_collectors_passes_are_spaced_out_while_the_command_starts_only(
    unfrozen: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    config = tmp_path / "quick.yaml"
    config.write_text(QUICK)
    seen: dict[str, int] = {}
    check, settle = _statemachine.checked_spec, _machine_process._settle

    def watched_check(*args: Any) -> Any:
        seen["checking"] = gc.get_threshold()[0]
        return check(*args)

    def watched_settle() -> None:
        seen["settling"] = gc.get_threshold()[0]
        settle()
        seen["running"] = gc.get_threshold()[0]

    monkeypatch.setattr(_statemachine, "checked_spec", watched_check)
    monkeypatch.setattr(_machine_process, "_settle", watched_settle)
    flags = ["--db", str(tmp_path / "m.db"), "--control-socket-prefix", str(tmp_path / "c")]
    flags += ["--event-socket-path", str(tmp_path / "e.sock")]
    before = gc.get_threshold()
    assert before[0] < _collector.START_THRESHOLD
    assert main([str(config), *flags]) == 0
    assert seen == {
        "checking": _collector.START_THRESHOLD,
        "settling": _collector.START_THRESHOLD,
        "running": before[0],
    }
    assert gc.get_threshold() == before


@pytest.mark.parametrize(
    "found", [None, (0, 10, 10), (100_000, 5, 5)], ids=["default", "off", "spaced-out-already"]
)
def test_a_start_that_fails_leaves_the_collector_as_it_found_it(
    found: tuple[int, int, int] | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = gc.get_threshold()
    if found is not None:
        gc.set_threshold(*found)
    try:
        assert main([str(tmp_path / "missing.yaml")]) != 0
        assert gc.get_threshold() == (found or before)
    finally:
        gc.set_threshold(*before)
    assert "missing.yaml" in capsys.readouterr().err
