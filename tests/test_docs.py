"""The generated reference pages match the code they document; the reference's example is
clean."""

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from statemachine_engine.tools import lint_paths

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "render_docs.py"
REGENERATE = ".venv/bin/python scripts/render_docs.py"


def render_docs() -> ModuleType:
    """scripts/render_docs.py, imported by its path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "render_docs", ROOT / "scripts" / "render_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_action_reference_matches_the_action_classes() -> None:
    page = (ROOT / "docs" / "actions.md").read_text(encoding="utf-8")
    assert page == render_docs().render_action_reference(), (
        f"docs/actions.md is stale: regenerate it with {REGENERATE}"
    )


def test_the_command_reference_matches_the_commands_help() -> None:
    page = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    assert page == render_docs().render_command_reference(), (
        f"docs/commands.md is stale: regenerate it with {REGENERATE}"
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
