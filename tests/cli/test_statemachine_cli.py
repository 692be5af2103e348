"""``statemachine CONFIG`` as a user runs it: ``--version``, flag errors, and a monitor whose
address is taken (``--monitor`` here, ``statemachine-ui`` alike): one line, exit 1, nothing
left behind; Ctrl-C while it still starts: one line, exit 130."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import trio
from cli_support import Place

from statemachine_engine.cli._statemachine import main

BIN = Path(sys.executable).parent
STATEMACHINE = str(BIN / "statemachine")
STATEMACHINE_UI = str(BIN / "statemachine-ui")
#: what the publisher logs when nothing listens on the event socket
NO_MONITOR_NOTICE = "no monitor on event socket"


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


# -- --version ------------------------------------------------------------------------


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out, err = capsys.readouterr()
    assert out == f"statemachine {version('statemachine-engine')}\n"
    assert err == ""


@pytest.mark.slow
def test_version_as_a_process(place: Place) -> None:
    result = run(STATEMACHINE, "--version", cwd=place.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"statemachine {version('statemachine-engine')}\n"


@pytest.mark.slow
def test_running_a_machine_does_not_import_importlib_metadata(place: Place) -> None:
    # the start of `statemachine CONFIG` is benchmarked: --version costs nothing until given
    code = (
        "import sys\n"
        "from statemachine_engine.cli._statemachine import main\n"
        f"code = main([{str(place.quick)!r}, *{place.flags()!r}])\n"
        "print(code, 'importlib.metadata' in sys.modules)\n"
    )
    done = run(sys.executable, "-c", code, cwd=place.root)
    assert done.stdout.split() == ["0", "False"], done.stderr


# -- flag errors ----------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["nodir", "hello.yaml"])
def test_an_actions_dir_that_is_not_a_folder_is_a_flag_error(
    place: Place, folder: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(place.root)
    code = main(["hello.yaml", "--actions-dir", folder, *place.flags()])
    assert code == 1
    assert capsys.readouterr().err == f"statemachine: --actions-dir {folder}: not a folder\n"
    assert not place.db.exists()


# -- --monitor with its address taken -------------------------------------------------


#: (command, its flag of the WebSocket port, of the UI port, its other arguments)
MONITORS = {
    "statemachine": ("--websocket-port", "--ui-port", ["{config}", "--monitor", "{flags}"]),
    "statemachine-ui": ("--websocket-port", "--port", ["--config", "{config}", "{events}"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(MONITORS))
@pytest.mark.parametrize("server", ["WebSocket server", "UI server"])
def test_a_monitor_port_in_use_is_one_line_naming_the_flag_and_leaves_nothing(
    place: Place, command: str, server: str
) -> None:
    ws_flag, ui_flag, rest = MONITORS[command]
    flag = ws_flag if server == "WebSocket server" else ui_flag
    args: list[str] = []
    for part in rest:
        if part == "{flags}":
            args += place.flags()
        elif part == "{events}":
            args += ["--event-socket-path", place.events]
        else:
            args.append(part.format(config=place.config))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = {ws_flag: "0", ui_flag: "0", flag: str(port)}
        result = run(
            str(BIN / command),
            *args,
            *(part for item in ports.items() for part in item),
            "--log-level",
            "WARNING",
            cwd=place.root,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"{command}: cannot start the {server} on 127.0.0.1:{port}: address already in use "
        f"(another server listens there: stop it, or choose another {flag})\n"
    )
    assert not place.control_socket("hello").exists()
    assert place.registry() == []


@pytest.mark.slow
def test_hosting_the_monitor_does_not_log_that_no_monitor_listens(place: Place) -> None:
    plain = run(STATEMACHINE, str(place.quick), *place.flags(), cwd=place.root)
    assert plain.returncode == 0, plain.stderr
    assert NO_MONITOR_NOTICE in plain.stderr  # the notice this test looks for does exist
    hosted = run(
        STATEMACHINE,
        str(place.quick),
        "--monitor",
        "--ui-port",
        "0",
        "--websocket-port",
        "0",
        *place.flags(),
        cwd=place.root,
    )
    assert hosted.returncode == 0, hosted.stderr
    assert "monitor UI at http://127.0.0.1:" in hosted.stderr
    assert NO_MONITOR_NOTICE not in hosted.stderr


# -- statemachine-ui with its address taken -------------------------------------------


@pytest.mark.slow
def test_statemachine_ui_names_the_flag_of_a_taken_event_socket(place: Place) -> None:
    with socket.socket(socket.AF_UNIX) as taken:
        taken.bind(place.events)
        taken.listen()
        result = run(
            STATEMACHINE_UI,
            "--port",
            "0",
            "--websocket-port",
            "0",
            "--config",
            str(place.config),
            "--event-socket-path",
            place.events,
            "--log-level",
            "WARNING",
            cwd=place.root,
        )
    assert result.returncode == 1
    assert result.stderr == (
        f"statemachine-ui: event socket {place.events} is in use: a server is already running "
        "there (stop it, or choose another --event-socket-path)\n"
    )


# -- statemachine run --check ---------------------------------------------------------


def test_run_check_reports_config_errors_as_the_linter_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text(
        "initial_state: waiting\nstates: [waiting, done]\nevents: [go]\n"
        "transitions:\n  - {from: waiting, to: dnoe, event: go}\n"
    )
    manifest = tmp_path / "statemachine-project.yaml"
    manifest.write_text("name: typo\nmachines:\n  - config: typo.yaml\n")
    assert main(["run", str(manifest), "--check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{config}:5:25: S003 error: transition to undeclared state 'dnoe' (did you mean 'done'?)",
        "    at $.transitions[0].to; fix: declare the state under states: or correct the name",
        "statemachine run: 1 error; nothing started",
    ]


# -- Ctrl-C during the start ----------------------------------------------------------

#: a custom action whose file takes its time to import: the start is still importing it
#: when Ctrl-C comes (it writes ``marker`` first, so the test knows)
SLOW_IMPORT_ACTION = """\
import pathlib
import time

pathlib.Path({marker!r}).write_text("importing")
time.sleep(60)

from statemachine_engine.actions import BaseAction


class NapAction(BaseAction):
    async def execute(self, context):
        return None
"""


async def test_ctrl_c_while_the_start_imports_exits_130_in_one_line(place: Place) -> None:
    actions = place.root / "actions"
    actions.mkdir()
    marker = place.root / "importing"
    (actions / "nap_action.py").write_text(SLOW_IMPORT_ACTION.format(marker=str(marker)))
    argv = [STATEMACHINE, str(place.config), "--actions-dir", str(actions), *place.flags()]
    proc = await trio.lowlevel.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    try:
        with trio.fail_after(30):
            while not marker.exists():
                assert proc.poll() is None, "statemachine ended before Ctrl-C"
                await trio.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            err = b""
            while chunk := await proc.stderr.receive_some():
                err += chunk
            assert await proc.wait() == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            await proc.wait()
        await proc.stderr.aclose()
    assert err.decode() == "statemachine: interrupted\n"  # no traceback
    assert not place.control_socket("hello").exists()
