"""Running ``/bin/sh -c`` in its own process group, and killing the whole group.

:func:`run_shell` starts the shell as the leader of a new session (so its process group
holds the shell, its children and their children), reads stdout and stderr as they come,
and returns the exit status with the tail of each stream.

On timeout, and on trio cancellation (the machine left the state), every process in the
group gets SIGTERM, then SIGKILL after ``kill_grace`` seconds if any is left, and the shell
is reaped before :func:`run_shell` returns or re-raises. Shutdown is bounded by the grace.

When the shell exits on its own, processes it put in the background are left running (the
``cmd > log 2>&1 &`` idiom starts a service on purpose); if they still hold the output
pipes, reading stops ``DRAIN_GRACE`` seconds after the shell exited. A process that starts
its own session (``setsid``) leaves the group and is never killed by this module.

A command must not outlive a runtime that was killed while it ran (SIGKILL leaves no
chance to clean up, and a job rescued from the dead runtime would run it twice). So the
group's leader is a small wrapper shell (:data:`_WRAPPER`) whose standard input is this
process's *lifeline*, a pipe whose write end only this process holds: a subshell of the
wrapper reads it, and end of file -- the runtime is gone -- kills the group. The wrapper
runs the command as its child with /dev/null as input, then stops the watcher and exits
with the command's status (re-raising the signal that killed it), so a process the command
put in the background on purpose keeps running.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
from collections.abc import Callable, Mapping

import attrs
import trio

from statemachine_engine.actions._realtime import real_work

#: seconds between SIGTERM and SIGKILL
KILL_GRACE = 1.0
#: seconds to keep reading output after the shell exited
DRAIN_GRACE = 0.5
#: bytes of each stream kept
OUTPUT_LIMIT = 64 * 1024
#: longest line handed to ``on_line``; longer lines are cut
LINE_LIMIT = 2000

#: ``on_line(stream, line)`` with stream ``"stdout"`` or ``"stderr"``; must not block
LineSink = Callable[[str, str], None]


#: the read end of this process's lifeline pipe (see the module docstring), made on first use
_lifeline: int | None = None
#: the write end: held open for the life of the process, never inherited
_lifeline_keep: list[int] = []

#: the group's leader: watch the lifeline (stdin) in a subshell, run the command ("$1").
#: (A background list's input is /dev/null unless redirected: hence the copy on fd 3.)
_WRAPPER = """\
exec 3<&0
(read -r _ <&3; kill -9 -$$) &
watcher=$!
exec 3<&-
/bin/sh -c "$1" </dev/null
status=$?
kill -9 "$watcher" 2>/dev/null
if [ "$status" -gt 128 ] && [ "$status" -lt 160 ]; then kill -"$((status - 128))" $$; fi
exit "$status"
"""


def _lifeline_fd() -> int:
    global _lifeline
    if _lifeline is None:
        read, write = os.pipe()  # both non-inheritable: only wrappers get the read end
        _lifeline_keep.append(write)
        _lifeline = read
    return _lifeline


@attrs.frozen
class ShellResult:
    returncode: int | None  # None when the command ran over its time limit
    stdout: str  # the last OUTPUT_LIMIT bytes, decoded
    stderr: str
    timed_out: bool
    pid: int


class _Capture:
    """Keeps the tail of one stream and passes complete lines to the sink."""

    def __init__(self, name: str, limit: int, sink: LineSink | None) -> None:
        self.name = name
        self.limit = limit
        self.sink = sink
        self.tail = bytearray()
        self.partial = bytearray()
        self.closed = trio.Event()

    async def pump(self, stream: trio.abc.ReceiveStream) -> None:
        try:
            while True:
                data = await stream.receive_some(65536)
                if not data:
                    break
                self._take(data)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass
        finally:
            if self.partial:
                self._emit(bytes(self.partial))
                self.partial.clear()
            self.closed.set()

    def _take(self, data: bytes | bytearray) -> None:
        self.tail += data
        if len(self.tail) > self.limit:
            del self.tail[: len(self.tail) - self.limit]
        if self.sink is None:
            return
        self.partial += data
        *lines, rest = bytes(self.partial).split(b"\n")
        for line in lines:
            self._emit(line)
        self.partial[:] = rest
        if len(self.partial) > LINE_LIMIT:  # a line without end: show what there is
            self._emit(bytes(self.partial))
            self.partial.clear()

    def _emit(self, line: bytes) -> None:
        if self.sink is not None:
            text = line.decode("utf-8", errors="replace").rstrip("\r")
            self.sink(self.name, text[:LINE_LIMIT])

    def text(self) -> str:
        return self.tail.decode("utf-8", errors="replace")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    # killpg also finds zombies that their new parent has not reaped yet (in a container,
    # PID 1 may never reap), so on Linux look at each process's state.
    with os.scandir("/proc") as entries:
        for entry in entries:
            if entry.name.isdigit() and _running_in_group(entry.name, pgid):
                return True
    return False


def _running_in_group(pid: str, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    # after the command name: state, ppid, pgrp
    return len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z"


async def terminate_group(process: trio.Process, grace: float = KILL_GRACE) -> None:
    """SIGTERM the process group led by ``process``, SIGKILL what is left after ``grace``,
    and reap the leader. Runs shielded from cancellation; takes at most about 2 x ``grace``
    (normally milliseconds)."""
    pgid = process.pid
    with trio.CancelScope(shield=True):
        _signal_group(pgid, signal.SIGTERM)
        with trio.move_on_after(grace):
            await process.wait()
            # no event announces a grandchild's death, so poll (only on this kill path)
            while group_alive(pgid):  # noqa: ASYNC110
                await trio.sleep(0.02)
        if process.returncode is not None and not group_alive(pgid):
            return
        _signal_group(pgid, signal.SIGKILL)
        await process.wait()
        # SIGKILL is delivered asynchronously: wait (briefly) until the group is gone
        with trio.move_on_after(grace):
            while group_alive(pgid):  # noqa: ASYNC110
                await trio.sleep(0.005)


async def run_shell(
    command: str,
    *,
    time_limit: float | None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    on_line: LineSink | None = None,
    output_limit: int = OUTPUT_LIMIT,
    kill_grace: float = KILL_GRACE,
) -> ShellResult:
    """Run ``/bin/sh -c command``; see the module docstring for what is killed and when.

    ``time_limit`` is in seconds (None: no limit); running over it kills the group and
    returns a result with ``timed_out`` set. Cancellation kills the group and propagates.

    Raises OSError when the shell cannot be started.
    """
    with real_work():
        process = await trio.lowlevel.open_process(
            ["/bin/sh", "-c", _WRAPPER, "sh", command],
            stdin=_lifeline_fd(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    assert process.stdout is not None and process.stderr is not None
    out = _Capture("stdout", output_limit, on_line)
    err = _Capture("stderr", output_limit, on_line)
    timed_out = False
    try:
        limit = time_limit if time_limit is not None else math.inf
        # real_work: under a virtual clock (simulation) the command takes no virtual time
        with trio.move_on_after(limit) as scope, real_work():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(out.pump, process.stdout)
                nursery.start_soon(err.pump, process.stderr)
                await process.wait()
                with trio.move_on_after(DRAIN_GRACE):
                    await out.closed.wait()
                    await err.closed.wait()
                nursery.cancel_scope.cancel()
        timed_out = scope.cancelled_caught and process.returncode is None
    finally:
        if process.returncode is None:
            await terminate_group(process, kill_grace)
        with trio.CancelScope(shield=True):
            await process.stdout.aclose()
            await process.stderr.aclose()
    return ShellResult(
        returncode=None if timed_out else process.returncode,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=timed_out,
        pid=process.pid,
    )
