"""Once its machine runs, a machine process frees the start's garbage and freezes what
survives (the collector then only looks at what the machine allocates); the freeze ends
with the run, so a caller that runs it in-process gets its collector back."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

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
