"""Every example is lint-clean, documented, and run by a test of its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from example_support import BIN, EXAMPLES, REPO

from statemachine_engine.service import load_manifest
from statemachine_engine.tools import lint_paths

EXAMPLE_NAMES = sorted(
    p.name for p in EXAMPLES.iterdir() if p.is_dir() and (p / "README.md").exists()
)


def configs(folder: Path) -> list[Path]:
    return sorted((folder / "config").glob("*.yaml"))


def test_the_examples_are_the_expected_ones() -> None:
    assert EXAMPLE_NAMES == [
        "context_map",
        "controller_worker",
        "custom_actions",
        "demo",
        "embedded",
        "patient_records",
        "simple_worker",
        "timeout_demo",
    ]
    index = (EXAMPLES / "README.md").read_text()
    for name in EXAMPLE_NAMES:
        assert f"({name}/)" in index, f"examples/README.md does not link {name}"


@pytest.mark.parametrize("name", [n for n in EXAMPLE_NAMES if n != "demo"])
def test_each_example_is_lint_clean_and_tested(name: str) -> None:
    folder = EXAMPLES / name
    files = configs(folder)
    assert files, f"{name} has no config/*.yaml"
    actions = folder / "actions"
    result = lint_paths(files, actions_dirs=[actions] if actions.is_dir() else [])
    assert [f"{f.file}:{f.line}: {f.code} {f.message}" for f in result.findings] == []
    assert (REPO / "tests" / "examples" / f"test_example_{name}.py").exists()


@pytest.mark.parametrize("name", ["controller_worker", "demo", "patient_records"])
def test_project_manifests_load(name: str) -> None:
    manifest = load_manifest(EXAMPLES / name / "statemachine-project.yaml")
    for machine in manifest.machines:
        assert Path(machine.config).is_file()


@pytest.mark.slow
def test_statemachine_lint_command_on_every_example() -> None:
    """The command the README gives, from the repository root, all files at once."""
    files = sorted(str(p.relative_to(REPO)) for p in EXAMPLES.glob("*/config/*.yaml"))
    result = subprocess.run(
        [str(BIN / "statemachine-lint"), "--format", "json", *files],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert len(report) == len(files)
    assert [(r["file"], r["issues"]) for r in report] == [(f, []) for f in files]
