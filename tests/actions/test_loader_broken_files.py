"""A broken ``*_action.py`` in an actions folder: a warning for the folder, an error only for
a machine that uses its type (the published package runs with such a file)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from statemachine_engine.actions import get_registry
from statemachine_engine.actors import open_runtime
from statemachine_engine.config import load_config
from statemachine_engine.errors import ActionLoadError

GOOD = """\
from statemachine_engine.actions.base import BaseAction


class GreetAction(BaseAction):
    async def execute(self, context):
        return "greeted"
"""

MACHINE = """\
metadata: {{machine_name: {name}}}
initial_state: idle
final_states: [done]
transitions:
  - {{from: idle, to: done, event: greeted}}
actions:
  idle:
    - {{type: {type}}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    actions = tmp_path / "actions"
    actions.mkdir()
    (actions / "greet_action.py").write_text(GOOD)
    (actions / "oops_action.py").write_text("import nonexistent_mod\n")
    for name, action_type in (("greeter", "greet"), ("user", "oops")):
        text = MACHINE.format(name=name, type=action_type)
        (tmp_path / f"{name}.yaml").write_text(text)
    return actions


def test_load_all_warns_once_and_refuses_only_a_user(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = get_registry(folder)
    [issue] = registry.load_all()
    assert issue.severity == "warning"
    assert issue.file == str(folder / "oops_action.py") and issue.line == 1
    assert registry.load_all() == [issue]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        f"{folder / 'oops_action.py'}:1: warning: custom action 'oops' failed to import: "
        "ModuleNotFoundError: No module named 'nonexistent_mod'; a machine that uses type "
        "'oops' will not start"
    ]
    greeter = load_config(folder.parent / "greeter.yaml", actions_dir=folder)
    user = load_config(folder.parent / "user.yaml", actions_dir=folder)
    assert registry.load_all(greeter) == [issue]
    with pytest.raises(ActionLoadError, match="No module named 'nonexistent_mod'"):
        registry.load_all(greeter, user)
    assert "greet" in registry and "bash" in registry


async def test_the_runtime_starts_machines_that_do_not_use_it(folder: Path) -> None:
    async with open_runtime(actions_dir=folder) as runtime:
        greeter = await runtime.spawn(folder.parent / "greeter.yaml")
        with trio.fail_after(5):
            assert await greeter.wait_stopped() == "stopped"
        assert greeter.state == "done"
        with pytest.raises(ActionLoadError, match=r"oops_action\.py:1: error"):
            await runtime.spawn(folder.parent / "user.yaml")
        assert "user" not in runtime.running_names()
