"""The generated reference pages match the code they document; the reference's example is
clean."""

import re
from pathlib import Path

from statemachine_engine.tools import lint_paths
from statemachine_engine.tools._action_docs import render_action_reference

ROOT = Path(__file__).resolve().parent.parent


def test_the_action_reference_matches_the_action_classes() -> None:
    page = (ROOT / "docs" / "actions.md").read_text(encoding="utf-8")
    assert page == render_action_reference(), (
        "docs/actions.md is stale: regenerate it with "
        "python -c 'from statemachine_engine.tools._action_docs import render_action_reference; "
        'open("docs/actions.md", "w").write(render_action_reference())\''
    )


def test_the_command_reference_matches_the_commands_help() -> None:
    from statemachine_engine.tools._command_docs import render_command_reference

    page = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert page == render_command_reference(), (
        "docs/commands.md is stale: regenerate it with "
        "python -c 'from statemachine_engine.tools._command_docs import render_command_reference; "
        'open("docs/commands.md", "w").write(render_command_reference())\''
    )


def test_the_yaml_references_example_machine_is_clean(tmp_path: Path) -> None:
    """The first example of docs/yaml-reference.md is what we tell users a machine looks like:
    it loads and the checker finds nothing in it."""
    text = (ROOT / "docs" / "yaml-reference.md").read_text(encoding="utf-8")
    match = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert match is not None
    example = tmp_path / "worker.yaml"
    example.write_text(match.group(1))
    result = lint_paths([example])
    assert [(f.code, f.severity, f.message) for f in result.findings] == []
