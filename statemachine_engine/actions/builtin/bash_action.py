"""``bash``: run a shell command; its exit status picks the next event.

The command runs as ``/bin/sh -c COMMAND`` in its own process group. A timeout, or the
machine leaving the state while it runs, kills the whole group (grandchildren included).

Values. The runtime hands this action its ``command`` template uninterpolated
(``RAW_KEYS``); ``shell_command`` turns each placeholder into a reference to a variable
(``"${SM_ARG_1}"``) that carries its value, so the shell expands values but never parses
them, wherever they stand. A placeholder whose value the command would run as code
(``eval``, ``sh -c``, ``ssh``, ...) is refused at load time and here. As in the published
package, a current job whose ``data`` holds a ``command`` overrides the YAML one, and while
a job is current its ``data`` fields (then the received payload's) are visible to
placeholders, and ``{primary|fallback}`` picks the first of two names that has a value.

Environment. The command inherits the runtime's environment, plus one variable per context
entry whose key is an identifier and whose value is a string, number or boolean, named
``SM_`` + the key in upper case (``job_id`` -> ``SM_JOB_ID``; booleans are ``true`` /
``false``). The prefix means context data can never replace ``PATH``, ``HOME``,
``LD_PRELOAD`` or any other variable the shell and its programs trust. Values over 32 KiB
are not exported. The ``env:`` key adds variables verbatim, after those, for YAML authors;
the placeholders' ``SM_ARG_<N>`` come last.

Output. The last 64 KiB of stdout and stderr are kept in the context as ``last_output``
and ``last_error_output`` (trailing newlines removed) and, while the command runs, lines
are streamed as ``activity_log`` events (stdout at level info, stderr at warning) at up
to 20 lines a second after a burst of 100; the number of lines not streamed is reported
once at the end. Lines also go to the runtime's log at INFO, thinned per machine and
command like transitions (the first 10, then every 1000th, with the count).

Failure. A non-zero exit sets ``last_error`` ("Command failed (exit N): <stderr tail>" and,
as in the published package, a second line "Command: <command>" with values filled in),
``last_error_action``, ``last_error_command`` and ``last_error_exit_code`` and returns
``error_mappings[N]`` if mapped (keys may be strings or numbers), else the ``error`` event.
Unlike the published package, ``current_job`` is kept, so an error state can still fail
or retry the job.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import trio

from statemachine_engine.actions._base import ActionHost, BaseAction
from statemachine_engine.actions.builtin._output_log import OutputLog
from statemachine_engine.actions.builtin._shell import ShellResult, run_shell
from statemachine_engine.actions.builtin._values import fail, unresolved
from statemachine_engine.config import (
    interpolate,
    resolve_fallbacks,
    resolve_path,
    shell_command,
)

DEFAULT_TIMEOUT = 30.0
ENV_PREFIX = "SM_"
ENV_VALUE_LIMIT = 32 * 1024
STREAM_BURST = 100
STREAM_RATE = 20.0  # lines per second once the burst is spent
ERROR_TAIL = 2000  # characters of stderr quoted in last_error

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class BashAction(BaseAction):
    """Run ``command`` with ``/bin/sh -c`` in its own process group; a timeout, or the
    machine leaving the state, kills the whole group.

    Placeholders in ``command`` reach the shell as variables, never as shell text: a plain
    ``{x}`` becomes ``"${SM_ARG_1}"`` (one word, the value verbatim), one inside ``"..."``
    or an unquoted here-document ``${SM_ARG_1}``, one inside ``'...'`` closes and reopens
    the quotes around ``"${SM_ARG_1}"``; in a ``#`` comment it stays as written. So no
    value from an event or a job can add a command, wherever the placeholder stands, and a
    placeholder that sat in quotes gives the same string as before.

    Where a program would run the value as code -- ``eval``, the script of ``sh -c`` /
    ``bash -c`` (and ``su -c``, ``python -c``, ``perl -e``, ...), ``ssh``'s remote
    command, a here-document or a pipe into a shell, or a quoted here-document (which
    substitutes nothing) -- the configuration is refused at load time (and by
    ``statemachine-validate`` and ``-lint``) with the file, line and YAML path. Refused,
    not warned about: a warning that is overlooked leaves a hole any event sender can use.
    The safe spelling passes the value as data: ``env: {NAME: "{x}"}`` and ``"$NAME"``
    inside the code, or an argument (``sh -c 'echo "$1"' _ {x}``). In ``$((...))`` and
    ``let`` a value must be an integer (the shell evaluates it there).

    While a job is current, its ``data`` fields (then the received payload's) are visible
    to placeholders, ``{primary|fallback}`` takes the first with a value, and, as in the
    published package, a ``command`` in the job's ``data`` replaces this one and runs as
    given (checked by the same rule): whoever can add jobs for this machine chooses what
    it runs.

    The command gets the runtime's environment plus ``SM_<KEY>`` for each context value
    that is a string, number or boolean (``job_id`` -> ``SM_JOB_ID``), then ``env:``, then
    the placeholders' ``SM_ARG_<N>``. The last 64 KiB of stdout and stderr go to
    ``last_output`` / ``last_error_output``; lines are streamed to the monitor's activity
    log while it runs and written to the runtime's log at INFO (the first 10 lines of a
    command, then every 1000th: a polling loop does not flood it). A failure sets
    ``last_error`` (as in the published package, its second line is ``Command: ...``),
    ``last_error_command`` and ``last_error_exit_code`` and is recorded in the error
    history; ``current_job`` is kept.

    Keys:
        command: the command template (required).
        timeout: seconds before the command is killed; default 30; ``null`` for none.
        success: event on exit status 0; default ``job_done``.
        error: event on failure or timeout; default ``error``.
        error_mappings: exit status -> event, e.g. ``{"3": nothing_to_do}``.
        env: extra environment variables, a mapping of name -> value.
        description: shown in logs instead of the command.
    """

    EVENTS: ClassVar[Mapping[str, str | None]] = {"success": "job_done", "error": "error"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("command",)
    KEYS: ClassVar[tuple[str, ...]] = ("command", "timeout", "error_mappings", "env")
    RAW_KEYS: ClassVar[tuple[str, ...]] = ("command",)

    async def execute(self, context: dict[str, Any]) -> str | None:
        machine = self.get_machine_name(context)
        template = self._template(context)
        if not template:
            return self._fail(context, "bash: no 'command' to run", command=None)
        try:
            timeout = _timeout(self.get_config_value("timeout", DEFAULT_TIMEOUT))
            mappings = _mappings(self.get_config_value("error_mappings"))
            extra_env = _extra_env(self.get_config_value("env"))
        except ValueError as exc:
            return self._fail(context, f"bash: {exc}", command=template)

        lookup = shell_lookup(context)
        template = resolve_fallbacks(template, lookup)
        missing = unresolved(template, lookup)
        if missing:
            self.logger.warning(
                "[%s] bash: unsubstituted placeholders left as written: %s",
                machine,
                ", ".join(missing),
            )
        # what the command reads as, for logs and last_error; never run
        shown = str(interpolate(template, lookup))
        try:
            command = shell_command(template, lookup)
        except ValueError as exc:
            return self._fail(context, f"bash: {exc}", command=shown)
        description = self.config.get("description") or shown
        self.logger.info("[%s] bash: %s", machine, _shorten(str(description)))

        streamer = _LineStreamer(
            getattr(self, "host", None), OutputLog.of(machine, template, self.logger)
        )
        try:
            result = await run_shell(
                command.text,
                time_limit=timeout,
                env={**os.environ, **context_env(context), **extra_env, **command.env},
                on_line=streamer,
            )
        except OSError as exc:
            return self._fail(
                context, f"bash: could not start /bin/sh: {exc.strerror or exc}", command=shown
            )
        finally:
            streamer.finish()

        context["last_output"] = result.stdout.rstrip("\n")
        context["last_error_output"] = result.stderr.rstrip("\n")
        if result.timed_out:
            return self._fail(
                context, f"Command timed out after {timeout:g} seconds", command=shown
            )
        code = result.returncode
        if code == 0:
            return self.event("success", "job_done")
        return self._failed(context, result, shown, mappings)

    def _template(self, context: Mapping[str, Any]) -> str:
        job_command = resolve_path(context, "current_job.data.command")
        if isinstance(job_command, str) and job_command.strip():
            self.logger.info(
                "[%s] bash: running the command from the current job's data",
                self.get_machine_name(context),
            )
            return job_command
        command = self.get_config_value("command")
        return command if isinstance(command, str) else ""

    def _failed(
        self,
        context: dict[str, Any],
        result: ShellResult,
        command: str,
        mappings: Mapping[str, str],
    ) -> str | None:
        code = result.returncode
        tail = result.stderr.strip()[-ERROR_TAIL:]
        self._fail(context, f"Command failed (exit {code}): {tail}", command=command, code=code)
        mapped = mappings.get(str(code))
        return mapped if mapped else self.event("error", "error")

    def _fail(
        self, context: dict[str, Any], message: str, *, command: str | None, code: int | None = None
    ) -> str | None:
        context["last_error_command"] = command
        context["last_error_exit_code"] = code
        if command is not None:
            message = f"{message}\nCommand: {_shorten(command, ERROR_TAIL)}"
        return fail(self, context, message, action_type="bash")


def shell_lookup(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """What placeholders in a command see: the context, overlaid while a job is current by
    the job's ``data`` and then by received payload keys the job data does not have."""
    job_data = resolve_path(context, "current_job.data")
    if not isinstance(job_data, Mapping):
        return context
    lookup = dict(context)
    lookup.update(job_data)
    payload = resolve_path(context, "event_data.payload")
    if isinstance(payload, Mapping):
        lookup.update({k: v for k, v in payload.items() if k not in job_data})
    return lookup


def context_env(context: Mapping[str, Any]) -> dict[str, str]:
    """``SM_<KEY>`` variables for the context's scalar entries (see the module docstring)."""
    env: dict[str, str] = {}
    for key, value in context.items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            continue
        if "\0" in text or len(text) > ENV_VALUE_LIMIT:
            continue
        env[ENV_PREFIX + key.upper()] = text
    return env


def _timeout(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null")):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise ValueError(f"timeout must be a positive number of seconds, got {value!r}")
    return seconds


def _mappings(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"error_mappings must map exit codes to events, got {value!r}")
    return {str(k).strip(): str(v) for k, v in value.items() if v not in (None, "")}


def _extra_env(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"env must map variable names to values, got {value!r}")
    env: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _IDENTIFIER.match(key):
            raise ValueError(f"env: {key!r} is not a valid variable name")
        env[key] = "" if item is None else str(item)
    return env


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _LineStreamer:
    """Publishes output lines as activity_log events, rate-limited by a token bucket, and
    hands each to the runtime's log (which thins them)."""

    def __init__(self, host: ActionHost | None, log: OutputLog) -> None:
        self.host = host
        self.log = log
        self.tokens = float(STREAM_BURST)
        self.stamp = trio.current_time()
        self.suppressed = 0

    def __call__(self, stream: str, line: str) -> None:
        self.log.line(stream, line)
        if self.host is None or not line.strip():
            return
        now = trio.current_time()
        self.tokens = min(STREAM_BURST, self.tokens + (now - self.stamp) * STREAM_RATE)
        self.stamp = now
        if self.tokens < 1:
            self.suppressed += 1
            return
        self.tokens -= 1
        level = "info" if stream == "stdout" else "warning"
        self.host.log_activity(line, level=level, stream=stream)

    def finish(self) -> None:
        if self.suppressed and self.host is not None:
            self.host.log_activity(
                f"{self.suppressed} more output lines not shown (rate limit); the last "
                "64 KiB are in last_output / last_error_output",
                level="info",
            )
