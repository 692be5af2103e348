"""No payload runs as a shell command, wherever its placeholder stands in a ``bash`` command.

Each hostile payload tries to create a canary file; for every position a placeholder can
take, the rendered command is run by real shells and the canary must not exist, and the
output must be exactly the value (quoted positions give the same string as always). Where a
program would run the value as code (``eval``, ``sh -c``, ...) the command is refused. The
quick suite runs a sample of the payloads; the slow suite runs all of them, under both
``/bin/sh`` and ``bash``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trio

from statemachine_engine.actions.builtin.bash_action import BashAction
from statemachine_engine.config import (
    ShellCommand,
    UnsafeCommand,
    load_config_text,
    shell_command,
    shell_hazards,
)
from statemachine_engine.errors import ConfigError

CANARY = "PWNED"

#: ways to run a command (``@C@`` is the canary's path): each payload tries every one
_ATTACKS = [
    "$(touch @C@)",
    "`touch @C@`",
    "; touch @C@",
    "&& touch @C@",
    "|| touch @C@",
    "| touch @C@",
    "& touch @C@",
    "\ntouch @C@\n",
    "'; touch @C@; '",
    '"; touch @C@; "',
    "'\"; touch @C@; #",
    "\\'; touch @C@; #",
    '\\"; touch @C@; #',
    "EOF\ntouch @C@\nEOF",
    "\nEOF\ntouch @C@\n",
    "\tEOF\ntouch @C@\n",
    "$( touch @C@ )",
    "${IFS}$(touch${IFS}@C@)",
    "a[$(touch @C@)]",
    "x[`touch @C@`]",
    "$((1))$(touch @C@)",
    "\\$(touch @C@)",
    "'$(touch @C@)'",
    '"$(touch @C@)"',
    ") ; touch @C@ ; (",
    "}; touch @C@; {",
    "`; touch @C@; `",
    "$(touch @C@)#",
    "#$(touch @C@)",
    "\n# comment\ntouch @C@",
    "*",
    "~",
    "$HOME ${HOME} $((1+1))",
    "-n",
    "",
    "{x} {v}",
    "\r\ntouch @C@",
    "$'\\x27'; touch @C@",
    "<(touch @C@)",
    ">(touch @C@)",
]
#: how each attack is dressed
_DRESSINGS = [
    "{a}",
    "x{a}",
    "{a}y",
    "'{a}'",
    '"{a}"',
    "{a}\n",
    "\n{a}",
    "it's {a} don't",
]
PAYLOADS = [d.replace("{a}", a) for a in _ATTACKS for d in _DRESSINGS]
assert len(PAYLOADS) >= 200

#: (position name, template with {p}, expected output for value v)
POSITIONS: list[tuple[str, str, Any]] = [
    ("plain word", "printf '%s' {p}", lambda v: v),
    ("glued to words", "printf '%s' x{p}y", lambda v: f"x{v}y"),
    ("double quotes", "printf '%s' \"<{p}>\"", lambda v: f"<{v}>"),
    ("single quotes", "printf '%s' '<{p}>'", lambda v: f"<{v}>"),
    ("assignment", "V={p}; printf '%s' \"$V\"", lambda v: v),
    ("parameter default", "printf '%s' \"${UNSET_VARIABLE:-{p}}\"", lambda v: v),
    ("here-document", "cat <<EOF\n<{p}>\nEOF", lambda v: f"<{v}>\n"),
    ("here-document <<-", "cat <<-EOF\n\t<{p}>\n\tEOF", lambda v: f"<{v}>\n"),
    ("after #", "true # {p}\nprintf ok", lambda v: "ok"),
    ("after # with an apostrophe", "true # it's {p}\nprintf ok", lambda v: "ok"),
    ("inside $(...)", "printf '%s' \"$(printf '%s.' {p})\"", lambda v: f"{v}."),
    ("inside backquotes", "printf '%s' \"`printf '%s.' {p}`\"", lambda v: f"{v}."),
    ("nested $(...) in quotes", "printf '%s' \"$(printf '%s.' \"{p}\")\"", lambda v: f"{v}."),
    ("redirection target", "cat < {p} 2>/dev/null; printf ok", lambda v: "ok"),
    ("case word", "case {p} in *) printf ok;; esac", lambda v: "ok"),
    ("argument of sh -c", 'sh -c \'printf "%s" "$1"\' _ {p}', lambda v: v),
]
#: positions where the shell would run the value as code: refused
REFUSED = [
    "eval printf '%s' {p}",
    'eval "printf %s {p}"',
    "sh -c 'printf %s {p}'",
    'bash -c "printf %s {p}"',
    "/bin/sh -lc 'echo {p}'",
    "sudo -u nobody sh -c 'echo {p}'",
    "find . -exec sh -c 'echo {p}' \\;",
    "echo {p} | sh",
    "printf '%s' \"{p}\" | bash -s",
    "sh <<EOF\necho {p}\nEOF",
    "cat <<'EOF'\n{p}\nEOF",
    'cat <<"EOF"\n{p}\nEOF',
    "ssh host ls {p}",
    "su root -c 'echo {p}'",
    "python3 -c 'print(\"{p}\")'",
    "perl -e 'print \"{p}\"'",
    'eval "$(printf %s {p})"',
    "x=1; eval `echo {p}`",
]

QUICK = PAYLOADS[:: len(PAYLOADS) // 24]
SHELLS = ["/bin/sh", *([shutil.which("bash")] if shutil.which("bash") else [])]


def run(command: ShellCommand, shell: str, cwd: Path) -> str:
    done = subprocess.run(
        [shell, "-c", command.text],
        capture_output=True,
        timeout=10,
        cwd=cwd,
        env={**os.environ, **command.env},
    )
    return done.stdout.decode("utf-8", "surrogateescape")


def check_positions(payloads: list[str], shells: list[str], tmp_path: Path) -> None:
    canary = tmp_path / CANARY
    for name, template, expected in POSITIONS:
        template = template.replace("{p}", "{v}")
        # the text the shell parses is the same whatever the value: values are never spliced
        text = shell_command(template, {"v": "plain"}).text
        for raw in payloads:
            value = raw.replace("@C@", str(canary))
            command = shell_command(template, {"v": value})
            assert command.text == text, (name, value)
            for shell in shells:
                out = run(command, shell, tmp_path)
                assert not canary.exists(), (name, shell, value)
                assert out == expected(value), (name, shell, value)


def test_payloads_never_run_quick_sample(tmp_path: Path) -> None:
    check_positions(QUICK, ["/bin/sh"], tmp_path)


@pytest.mark.slow
def test_payloads_never_run_all_payloads_all_shells(tmp_path: Path) -> None:
    check_positions(PAYLOADS, SHELLS, tmp_path)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_ansi_c_quotes_keep_their_string(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    for raw in QUICK:
        value = raw.replace("@C@", str(tmp_path / CANARY))
        command = shell_command("printf '%s' $'<\\t{v}>'", {"v": value})
        assert run(command, bash, tmp_path) == f"<\t{value}>"
        assert not (tmp_path / CANARY).exists()


@pytest.mark.parametrize("template", REFUSED)
def test_code_positions_are_refused(template: str) -> None:
    command = template.replace("{p}", "{v}")
    (hazard,) = shell_hazards(command)
    assert hazard.placeholder == "{v}"
    with pytest.raises(UnsafeCommand) as caught:
        shell_command(command, {"v": "$(touch PWNED)"})
    assert "pass the value as data" in str(caught.value)


def test_arithmetic_takes_integers_only(tmp_path: Path) -> None:
    command = shell_command("printf '%s' $(( {v} + 1 ))", {"v": "41"})
    assert run(command, "/bin/sh", tmp_path) == "42"
    for value in ("a[$(touch PWNED)]", "1+1", "x"):
        with pytest.raises(ValueError, match="must be an integer"):
            shell_command("echo $(( {v} ))", {"v": value})
        with pytest.raises(ValueError, match="must be an integer"):
            shell_command("let x={v}", {"v": value})


def test_a_nul_byte_is_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="NUL byte"):
        shell_command("echo {v}", {"v": "a\0b"})


def test_refused_at_load_time_with_file_line_and_path() -> None:
    yaml_text = (
        "initial_state: a\n"
        "states: [a, b]\n"
        "transitions:\n"
        "  - {from: a, to: b, event: go}\n"
        "actions:\n"
        "  a:\n"
        "    - type: bash\n"
        "      params:\n"
        "        command: |\n"
        "          echo start\n"
        '          bash -c "echo {event_data.payload.name}"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config_text(yaml_text, file="m.yaml")
    (issue,) = caught.value.issues
    assert issue.file == "m.yaml" and issue.line == 9
    assert issue.path == "$.actions.a[0].params.command"
    assert "{event_data.payload.name} (line 2 of the command)" in issue.message
    assert "bash -c runs its argument as code" in issue.message
    assert "env:" in issue.message and '"$1"' in issue.message


async def test_the_action_refuses_a_jobs_command_with_eval(tmp_path: Path) -> None:
    # a job's data may replace the command at run time, after the load-time check
    action = BashAction({"type": "bash", "command": "true"})
    context: dict[str, Any] = {
        "current_job": {"id": 1, "data": {"command": "eval echo {v}", "v": "x"}}
    }
    with trio.fail_after(10):
        assert await action.execute(context) == "error"
    assert "eval runs its arguments as shell code" in context["last_error"]
