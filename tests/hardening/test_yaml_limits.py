"""YAML that used to kill the loader gives one finding at its line, in bounded time and memory.

Each hostile document goes through every way a config is read: the loader the runtime
uses, ``statemachine-validate``, ``statemachine-lint``, ``statemachine`` itself, and the
monitor's diagram endpoint (which a web page can make the monitor request).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from statemachine_engine.config import load_config_text, load_yaml
from statemachine_engine.errors import ConfigError
from statemachine_engine.monitor import ConfigCatalog, MonitorApp, MonitorHub

#: seconds any of these may take (a hang used to take minutes and 1.5 GB)
BOUND = 5.0


def alias_bomb() -> str:
    """The billion laughs: nine levels of nine aliases, 9**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def merge_bomb() -> str:
    """The same through merge keys, which the constructor copies."""
    lines = ["a0: &a0 {k0: lol, k1: lol, k2: lol, k3: lol, k4: lol, k5: lol, k6: lol}"]
    for i in range(1, 9):
        refs = ", ".join(f"*a{i - 1}" for _ in range(9))
        lines.append(f"a{i}: &a{i} {{<<: [{refs}], x{i}: 1}}")
    return "\n".join(lines) + "\n"


MACHINE = "initial_state: a\nstates: [a]\nevents: [go]\ntransitions: []\n"

#: name -> (document, line of the finding, words the message must hold)
HOSTILE: dict[str, tuple[str, int, str]] = {
    "alias bomb": (alias_bomb(), 6, "alias bomb"),
    "merge bomb": (merge_bomb(), 6, "alias bomb"),
    "recursive alias": (MACHINE + "metadata: &m {self: *m}\n", 5, "recursive alias *m"),
    "recursive list alias": (MACHINE + "known_context: &k [a, *k]\n", 5, "recursive alias *k"),
    "900-deep flow nesting": (
        MACHINE + "metadata: " + "[" * 900 + "]" * 900 + "\n",
        5,
        "nested more than 100 levels",
    ),
    "900-deep block nesting": (
        MACHINE + "metadata:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(900)),
        104,
        "nested more than 100 levels",
    ),
    "control character": (MACHINE + "metadata: {note: 'bell\x07'}\n", 5, "U+0007"),
    "NUL byte": ("initial_state: a\x00\n", 1, "U+0000"),
    "5,000-digit integer": (MACHINE + "metadata: {n: " + "7" * 5000 + "}\n", 5, "5,000 characters"),
    "2 MB value": (MACHINE + "metadata: {n: " + "x" * 2_000_000 + "}\n", 5, "limit is 1,048,576"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_the_loader_gives_one_issue_at_the_line(name: str) -> None:
    text, line, words = HOSTILE[name]
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, file="hostile.yaml")
    assert time.monotonic() - started < BOUND
    (issue,) = caught.value.issues
    assert issue.file == "hostile.yaml" and issue.line == line, issue
    assert words in issue.message


def test_a_lone_name_where_a_list_belongs_is_one_finding() -> None:
    text = MACHINE + 'state_groups: {G: "' + "a" * 1_000_000 + '"}\n'
    started = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, file="g.yaml")
    assert time.monotonic() - started < BOUND
    (issue,) = caught.value.issues
    assert issue.path == "$.state_groups.G" and issue.line == 5
    assert "expected a list of names" in issue.message


def test_ordinary_aliases_still_work() -> None:
    data, _ = load_yaml("base: &b {x: 1}\ncopy: *b\nmerged: {<<: *b, y: 2}\n")
    assert data == {"base": {"x": 1}, "copy": {"x": 1}, "merged": {"x": 1, "y": 2}}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from statemachine_engine.cli.{} import {}; sys.exit({}(sys.argv[1:]))"
    ).format(*args[:1], args[1], args[1])
    return subprocess.run(
        [sys.executable, "-c", code, *args[2:]], capture_output=True, text=True, timeout=60
    )


COMMANDS = {
    "statemachine-validate": ("_validate", "main_validate"),
    "statemachine-lint": ("_validate", "main_lint"),
    "statemachine": ("_statemachine", "main"),
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", ["alias bomb", "recursive alias", "900-deep flow nesting"])
def test_every_command_reports_it_and_exits(tmp_path: Path, command: str, name: str) -> None:
    text, line, words = HOSTILE[name]
    config = tmp_path / "hostile.yaml"
    config.write_text(text)
    started = time.monotonic()
    done = run_cli(*COMMANDS[command], str(config))
    # interpreter start-up included: generous, but a hang took minutes
    assert time.monotonic() - started < 20
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "Traceback" not in output
    assert words in output
    assert f"{line}" in output


@pytest.mark.parametrize("name", ["alias bomb", "merge bomb", "recursive alias"])
async def test_the_monitors_diagram_endpoint_refuses_it(tmp_path: Path, name: str) -> None:
    (tmp_path / "config").mkdir()
    # the catalog lists files that look like machines
    (tmp_path / "config" / "bomb.yaml").write_text("initial_state: a\n" + HOSTILE[name][0])
    app = MonitorApp(MonitorHub(), ConfigCatalog(project_root=tmp_path))
    started = time.monotonic()
    status, body = await get(app, "/api/diagram/bomb/main")
    assert time.monotonic() - started < BOUND
    assert 400 <= status < 500, status
    assert HOSTILE[name][2] in body.decode()


async def get(app: MonitorApp, path: str) -> tuple[int, bytes]:
    """One GET through the ASGI app: the status and the body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:3001")],
    }
    await app(scope, receive, send)
    start, body = sent
    return start["status"], body["body"]
