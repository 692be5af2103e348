"""The README's five-minute tour is true: its machine validates and simulates as shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(pattern: str) -> str:
    match = re.search(pattern, README, re.S)
    assert match is not None, f"README no longer has {pattern!r}"
    return match.group(1)


@pytest.fixture
def tour(tmp_path: Path) -> Path:
    (tmp_path / "hello.yaml").write_text(_block(r"```yaml\n# hello\.yaml\n(.*?)```"))
    events = _block(r"printf -- '(.*?)' > events\.yaml").replace("\\n", "\n")
    (tmp_path / "events.yaml").write_text(events)
    return tmp_path


def run(tmp: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]], cwd=tmp, capture_output=True, text=True, timeout=60
    )


def test_the_tour_machine_validates_without_findings(tour: Path) -> None:
    result = run(tour, "statemachine-validate", "--strict", "hello.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tour_simulation_prints_the_virtual_time_trace(tour: Path) -> None:
    result = run(tour, "statemachine", "simulate", "hello.yaml", "--events", "events.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "     1.000  hello  waiting --greet--> greeting",
        "     1.000  hello  greeting --job_done--> waiting",
        "    11.000  hello  waiting --timeout(10)--> waiting",
        "    21.000  hello  waiting --timeout(10)--> waiting",
        "    30.000  hello  waiting --stop--> stopped",
        "    30.000  hello  final state: stopped",
    ]


def test_the_pytest_example_passes_as_the_readme_sets_it_up(tour: Path) -> None:
    # the conftest line, the trio-mode setting and the test itself, all from the README
    plugin = _block(r"add\s+`(pytest_plugins = \[.*?\])`")
    assert "trio_mode = true" in _block(r"For pytest(.*?)```python")
    (tour / "conftest.py").write_text(plugin + "\n")
    (tour / "pytest.ini").write_text("[pytest]\ntrio_mode = true\n")
    (tour / "test_hello.py").write_text(
        _block(r"```python\n(import trio\n+async def test_watchdog.*?)```")
    )
    result = run(tour, "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hello.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_the_embedded_example_runs_as_printed(tmp_path: Path) -> None:
    # the README's block, run where examples/embedded keeps the worker.yaml it loads
    code = _block(r"```python\n(import trio\nfrom statemachine_engine import open_runtime.*?)```")
    script = tmp_path / "embedded_readme.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT / "examples" / "embedded",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ActorStatistics(name='worker', state='completed'")
