"""The one launcher of machines in processes of their own: ``start_fsm`` with
``process: true``, and the manifest's ``process: true`` entries of ``statemachine run``.

A child runs ``python -m statemachine_engine CONFIG`` with its parent's database, socket
paths and actions folder; its output goes to ``<log_dir>/<name>.log``. Two pipes tie it to
the parent: the *ready pipe*, on which the child writes once it is registered and can take
events (so :meth:`ChildProcesses.launch` returns only then, or raises with the reason from
the child's log), and the *lifeline*, whose write end only the parent holds: when the parent
dies, even by SIGKILL, the child reads end of file and stops itself, so nothing is orphaned.
A child's exit is watched: a clean exit sends the machine that asked its ``on_done`` event,
any other exit an ``error`` event (with ``last_error`` saying why). Children are killed,
process group and all, when the parent's runtime stops.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

import trio

from statemachine_engine.errors import StateMachineError

if TYPE_CHECKING:
    from statemachine_engine.actors import ChildRequest

log = logging.getLogger("statemachine_engine.children")

#: how long a child may take to open its control socket before the spawn counts as failed
READY_TIMEOUT = 15.0
#: after SIGTERM, how long a child has to exit before SIGKILL
KILL_GRACE = 2.0


class LaunchSettings:
    """What every child of one runtime process shares with it: the database, the sockets,
    the actions folder, where its log goes (``<log_dir>/<name>.log``, relative to this
    process's folder), its working directory (None: this process's) and the store's
    commit durability (``--sync``)."""

    __slots__ = (
        "actions_dir",
        "control_socket_prefix",
        "cwd",
        "db",
        "event_socket_path",
        "log_dir",
        "sync",
    )

    def __init__(
        self,
        db: str,
        event_socket_path: str | None = None,
        control_socket_prefix: str | None = None,
        actions_dir: str | None = None,
        log_dir: str = "logs",
        cwd: str | None = None,
        sync: str = "normal",
    ) -> None:
        self.db = db
        self.event_socket_path = event_socket_path
        self.control_socket_prefix = control_socket_prefix
        self.actions_dir = actions_dir
        self.log_dir = log_dir
        self.cwd = cwd
        self.sync = sync


class _Child:
    __slots__ = ("lifeline", "process")

    def __init__(self, process: trio.Process, lifeline: int) -> None:
        self.process = process
        self.lifeline = lifeline  # our end of its lifeline pipe, closed once it is reaped


class ChildProcesses:
    """Implements :class:`statemachine_engine.actors.ProcessLauncher` for a runtime process;
    the watchers of its children run in ``nursery``."""

    def __init__(self, settings: LaunchSettings, nursery: trio.Nursery) -> None:
        self._settings = settings
        self._nursery = nursery
        self._running: dict[str, _Child] = {}
        self._stopping = False

    def argv(
        self,
        config_path: str,
        name: str,
        context: Mapping[str, Any],
        actions_dir: str | None = None,
    ) -> list[str]:
        settings = self._settings
        # paths as this process sees them: a child may run in another folder (a project's)
        config = os.path.abspath(config_path)
        argv = [sys.executable, "-m", "statemachine_engine", config, "--machine-name", name]
        # the database is not in argv but in the environment (see ``environment``)
        if settings.event_socket_path:
            argv += ["--event-socket-path", os.path.abspath(settings.event_socket_path)]
        if settings.control_socket_prefix:
            argv += ["--control-socket-prefix", os.path.abspath(settings.control_socket_prefix)]
        actions_dir = actions_dir or settings.actions_dir
        if actions_dir:
            argv += ["--actions-dir", os.path.abspath(actions_dir)]
        if context:
            argv += ["--initial-context", json.dumps(dict(context), default=str)]
        if settings.sync != "normal":
            argv += ["--sync", settings.sync]
        return argv

    def environment(self) -> dict[str, str]:
        """The child's environment: this process's, with the database in
        ``$STATEMACHINE_DB``. Not in argv: ``ps`` shows any user the command lines of every
        process, and a ``postgresql://`` URL may carry a password. A file's path is made
        absolute; ``:memory:`` and URLs are passed as they are."""
        from statemachine_engine.persistence import DB_ENV_VAR, is_db_url

        db = self._settings.db
        if db != ":memory:" and not is_db_url(db):
            db = os.path.abspath(db)
        return {**os.environ, DB_ENV_VAR: db}

    async def launch(self, request: ChildRequest, *, actions_dir: str | None = None) -> None:
        """Start ``request``'s machine and return once it can receive events; raises
        StateMachineError, with the reason from its log, when it cannot start.
        ``actions_dir`` overrides the settings' folder for this child."""
        name = request.name
        if name in self._running:
            raise StateMachineError(f"a child process named {name!r} is already running")
        log_dir = trio.Path(self._settings.log_dir)
        await log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{name}.log"
        # the child writes one line to this pipe once it can receive events: no polling
        ready_read, ready_write = os.pipe()
        # this process holds the other end of the lifeline until the child is reaped; if it
        # dies (even by SIGKILL) the child reads end of file and stops itself
        life_read, life_write = os.pipe()
        argv = self.argv(request.config_path, name, request.context, actions_dir)
        argv += ["--durable"] if request.durable else []
        argv += ["--fresh"] if request.fresh else []
        argv += ["--ready-fd", str(ready_write), "--parent-fd", str(life_read)]
        try:
            out = await trio.to_thread.run_sync(open, str(log_file), "ab")
            with out:
                process = await trio.lowlevel.open_process(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    start_new_session=True,
                    pass_fds=(ready_write, life_read),
                    cwd=self._settings.cwd,
                    env=self.environment(),
                )
        except BaseException:
            os.close(life_write)
            os.close(ready_read)
            raise
        finally:
            os.close(ready_write)
            os.close(life_read)
        self._running[name] = _Child(process, life_write)
        log.info("started %s as process %d (log: %s)", name, process.pid, log_file)
        ready = b""
        async with trio.lowlevel.FdStream(ready_read) as pipe:
            with trio.move_on_after(READY_TIMEOUT):
                ready = await pipe.receive_some(64)
        if not ready:
            await self._not_started(request, process, str(log_file))
        self._nursery.start_soon(self._watch, request, process, str(log_file))

    async def _not_started(
        self, request: ChildRequest, process: trio.Process, log_file: str
    ) -> NoReturn:
        """A child that exited (or hangs) before it could take events: reap it, then raise
        an error saying how and, from its log, why (start_fsm reports it as its error)."""
        try:
            with trio.move_on_after(READY_TIMEOUT) as waited:
                await process.wait()
        finally:
            await self._reaped(request.name, process)
        why = await trio.to_thread.run_sync(_last_lines, log_file)
        code = process.returncode
        if waited.cancelled_caught:
            how = f"was not ready within {READY_TIMEOUT:g} s and was killed"
        elif code is not None and code < 0:
            how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        what = "child" if request.parent is not None else "machine"
        raise StateMachineError(
            f"{what} {request.name} did not start: it {how}"
            f"{': ' + why if why else ''} (see {log_file})"
        )

    async def wait(self, name: str) -> None:
        """Return once the child ``name`` has exited (at once if none runs)."""
        child = self._running.get(name)
        if child is not None:
            await child.process.wait()

    async def _reaped(self, name: str, process: trio.Process) -> None:
        """Forget a child that exited (killing it first if it still runs)."""
        if process.returncode is None:
            with trio.CancelScope(shield=True):
                await kill_process(process)
        child = self._running.pop(name, None)
        if child is not None:
            os.close(child.lifeline)

    async def _watch(self, request: ChildRequest, process: trio.Process, log_file: str) -> None:
        name, parent = request.name, request.parent
        try:
            code = await process.wait()
        finally:
            await self._reaped(name, process)
        if self._stopping:
            return
        payload = {"machine_name": name, "exit_code": code, "log_file": log_file}
        if code == 0:
            event = request.on_done
        else:
            event = "error"
            if request.report_error is not None:
                request.report_error(
                    "start_fsm", f"child process {name} exited with code {code}; see {log_file}"
                )
        if event and parent is not None:
            try:
                await parent.send(event, payload, source=name)
            except StateMachineError:
                log.info("parent %s stopped before child %s exited", parent.name, name)

    async def stop(self) -> None:
        """Kill every child (SIGTERM, then SIGKILL after a grace period) and reap it."""
        self._stopping = True
        with trio.CancelScope(shield=True):
            for child in list(self._running.values()):
                await kill_process(child.process)


async def kill_process(process: trio.Process) -> None:
    """SIGTERM the process group, SIGKILL it after a grace period, and reap it."""
    if process.returncode is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with trio.move_on_after(KILL_GRACE):
        await process.wait()
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    await process.wait()


def _last_lines(path: str, count: int = 3, limit: int = 600) -> str:
    """The last ``count`` non-empty lines of a child's log, joined (at most ``limit``
    characters, the end kept): what it said before it gave up."""
    try:
        with open(path, "rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            log_file.seek(max(0, log_file.tell() - 8192))
            text = log_file.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()][-count:]
    return " | ".join(lines)[-limit:]
