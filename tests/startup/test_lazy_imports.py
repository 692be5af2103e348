"""What ``statemachine CONFIG`` imports: the runtime's entry point leaves the monitor, the
web servers, the YAML parser and the checker alone, and a start served from the start cache
(the second start of an unchanged configuration) imports neither the YAML parser, cattrs
nor the checker -- yet logs the same warnings and runs the same spec."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: never needed by a machine process without --monitor
MONITOR_AND_WEB = (
    "statemachine_engine.monitor",
    "hypercorn",
    "trio_websocket",
    "wsproto",
    "h11",
    "yaml.dumper",
    "yaml.emitter",
    "statemachine_engine.tools._diagrams",
    "statemachine_engine.tools._events_monitor",
    # the store pages and operator actions the monitor reads through the store
    "statemachine_engine.persistence._browse",
    "statemachine_engine.persistence._audit_sql",
    "statemachine_engine.persistence._jobs_admin_sql",
)
#: what a machine on a SQLite store never needs, or needs only when asked: the PostgreSQL
#: adapter, the SQL of several hosts, the statistics records (attrs classes)
NOT_FOR_SQLITE = (
    "psycopg",
    "statemachine_engine.persistence._pg_adapter",
    "statemachine_engine.persistence._remote_sql",
    "statemachine_engine.actors._statistics",
    "statemachine_engine.transport._statistics",
)
#: what loading and checking a YAML file takes, and a cached start does not
CHECKING = ("yaml", "cattrs", "statemachine_engine.tools", "statemachine_engine.config._load")

WARNS = """\
metadata: {name: Warn}
initial_state: a
states: [a, b, lonely, stopped]
events: [go, stop]
transitions:
  - {from: a, to: b, event: go}
  - {from: b, to: a, event: go}
  - {from: "*", to: stopped, event: stop}
"""

#: the start path of cli/_statemachine.py main() up to the runtime, then what was imported
START = """\
import json, logging, sys
from statemachine_engine.cli._statemachine import build_parser, checked_spec
import statemachine_engine.service._machine_process
from statemachine_engine.actions import get_registry
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())
logging.getLogger().addHandler(Keep())
args = build_parser().parse_args(sys.argv[1:])
spec = checked_spec(args, [])
get_registry(args.actions_dir).load_all(spec)
print(json.dumps({"modules": sorted(sys.modules), "warnings": records, "spec": repr(spec)}))
"""


def loaded(code: str, *argv: str, cwd: Path, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    result: dict = json.loads(done.stdout.splitlines()[-1])  # type: ignore[type-arg]
    return result


def imported(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == n or m.startswith(n + ".") for n in names)]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_the_runtime_entry_point_imports_no_monitor_web_or_yaml(tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "import statemachine_engine.cli._statemachine\n"
        "import statemachine_engine.service._machine_process\n"
        "print(json.dumps({'modules': sorted(sys.modules)}))\n"
    )
    modules = loaded(code, cwd=tmp_path)["modules"]
    assert imported(modules, MONITOR_AND_WEB + CHECKING) == []


def test_a_cached_start_imports_no_parser_and_logs_the_same_warnings(
    tmp_path: Path, env: dict[str, str]
) -> None:
    (tmp_path / "warn.yaml").write_text(WARNS)
    cold = loaded(START, "warn.yaml", cwd=tmp_path, env=env)
    warm = loaded(START, "warn.yaml", cwd=tmp_path, env=env)
    assert imported(cold["modules"], CHECKING) != []  # the first start checks the file
    assert imported(warm["modules"], MONITOR_AND_WEB + CHECKING + NOT_FOR_SQLITE) == []
    assert warm["spec"] == cold["spec"]
    assert len(cold["warnings"]) == 1 and "R001" in cold["warnings"][0]
    assert warm["warnings"] == cold["warnings"]


def test_a_changed_file_is_checked_again(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "warn.yaml").write_text(WARNS)
    loaded(START, "warn.yaml", cwd=tmp_path, env=env)
    (tmp_path / "warn.yaml").write_text(WARNS.replace("lonely, ", ""))
    again = loaded(START, "warn.yaml", cwd=tmp_path, env=env)
    assert imported(again["modules"], ("statemachine_engine.tools",)) != []
    assert again["warnings"] == []


def test_a_cache_that_cannot_be_written_does_not_stop_a_start(tmp_path: Path) -> None:
    (tmp_path / "warn.yaml").write_text(WARNS)
    (tmp_path / "not-a-folder").write_text("")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "not-a-folder")}
    for _ in range(2):
        run = loaded(START, "warn.yaml", cwd=tmp_path, env=env)
        assert imported(run["modules"], ("statemachine_engine.tools",)) != []
        assert len(run["warnings"]) == 1


#: the attrs classes of ours a machine process's modules may build at import: attrs
#: generates and compiles each one's methods then (about 3 M instructions a class, a third
#: of the start's own cost at 25 of them), so the start path keeps to the configuration's
#: classes and the public records; its other classes are plain
START_ATTRS_CLASSES = {
    "statemachine_engine.config._models.ActionSpec",
    "statemachine_engine.config._models.EventSpec",
    "statemachine_engine.config._models.Transition",
    "statemachine_engine.config._models.MachineSpec",
    "statemachine_engine.transport._protocol.Message",
    "statemachine_engine.transport._protocol.MachineEvent",
    "statemachine_engine.persistence._protocol.Job",
}


def test_the_start_path_builds_only_its_listed_attrs_classes(tmp_path: Path) -> None:
    code = (
        "import json, sys, attrs\n"
        "import statemachine_engine.cli._statemachine\n"
        "import statemachine_engine.service._machine_process\n"
        "import statemachine_engine.config._cache\n"
        "found = sorted(\n"
        "    f'{c.__module__}.{c.__qualname__}'\n"
        "    for name, module in list(sys.modules.items())\n"
        "    if name.startswith('statemachine_engine')\n"
        "    for c in vars(module).values()\n"
        "    if isinstance(c, type) and c.__module__ == name and attrs.has(c)\n"
        ")\n"
        "print(json.dumps({'classes': found}))\n"
    )
    assert set(loaded(code, cwd=tmp_path)["classes"]) <= START_ATTRS_CLASSES
