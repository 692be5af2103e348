"""Simulated hosts for the several-hosts tests: one mount namespace with a private /tmp each.

Two runtimes on one machine normally meet through their Unix sockets under /tmp. A ``Host``
is a mount namespace (``unshare -m``) with its own tmpfs on /tmp, so commands run on one
host cannot see the sockets and files another host made there; what hosts share is the
network, hence a PostgreSQL server on 127.0.0.1, and the rest of the file system (the
checkout, the virtual environment).

A host lives as long as its holder process: ``unshare`` running a shell that mounts the
tmpfs, says "ready" and waits for its stdin to close. A checkout or virtual environment that
itself lies under /tmp stays visible: the shell mounts the tmpfs on an empty folder of the
real /tmp first, binds those folders into it, then moves it onto /tmp. Commands join the
namespace with ``nsenter``. If the test process dies, the holder's stdin closes and the
namespace goes with its last process. Mounting needs root, as CI runs.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

HOLDER_SCRIPT = "mount -t tmpfs -o mode=1777 tmpfs /tmp && echo ready && read _"
#: what every host must see: the checkout and the virtual environment its commands run from
SHARED = (Path(__file__).resolve().parents[1], Path(sys.prefix).resolve())


def _under_tmp(paths: Sequence[Path]) -> list[Path]:
    """The outermost of ``paths`` that lie under /tmp (a private /tmp would hide them)."""
    inside = sorted({p for p in paths if p.is_relative_to("/tmp") and p != Path("/tmp")})
    return [p for p in inside if not any(p != q and p.is_relative_to(q) for q in inside)]


def _holder_script(stage: str, kept: Sequence[Path]) -> str:
    """Mount the host's tmpfs on ``stage`` (an empty folder of the real /tmp), bind each of
    ``kept`` into it at its own place, then move it onto /tmp."""
    steps = [f"mount -t tmpfs -o mode=1777 tmpfs {shlex.quote(stage)}"]
    for path in kept:
        inside = shlex.quote(f"{stage}/{path.relative_to('/tmp')}")
        steps += [f"mkdir -p {inside}", f"mount --rbind {shlex.quote(str(path))} {inside}"]
    steps += [f"mount --move {shlex.quote(stage)} /tmp", "echo ready", "read _"]
    return " && ".join(steps)


class HostUnavailable(RuntimeError):
    """The namespace of a simulated host could not be made (not root, or no unshare)."""


class Host:
    """A simulated host; use as a context manager (``with Host("a") as a: a.run([...])``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._holder: subprocess.Popen[str] | None = None
        self._started: list[subprocess.Popen[Any]] = []
        self._stage: str | None = None
        #: folders under the real /tmp this host still sees (the checkout, the venv)
        self.kept: list[Path] = []

    def __enter__(self) -> Host:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if os.geteuid() != 0:
            raise HostUnavailable(
                f"host {self.name!r}: a private /tmp needs a mount namespace, which needs root "
                "(the several-hosts tests run as root, as CI does)"
            )
        script = HOLDER_SCRIPT
        self.kept = _under_tmp([*SHARED, Path.cwd().resolve()])
        if self.kept:
            self._stage = tempfile.mkdtemp(prefix=f".host-{self.name}-", dir="/tmp")
            script = _holder_script(self._stage, self.kept)
        self._holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self._holder.stdout is not None
        if self._holder.stdout.readline().strip() != "ready":
            self._holder.kill()
            _, err = self._holder.communicate(timeout=10)
            self._holder = None
            self._remove_stage()
            raise HostUnavailable(f"host {self.name!r}: unshare failed: {err.strip()}")

    def command(self, argv: Sequence[str], cwd: str | Path | None = None) -> list[str]:
        """``argv`` as a command line that runs on this host, in ``cwd`` (default: ours)."""
        if self._holder is None:
            raise RuntimeError(f"host {self.name!r} is not started")
        workdir = str(cwd) if cwd is not None else os.getcwd()
        return ["nsenter", "-t", str(self._holder.pid), "-m", f"--wd={workdir}", "--", *argv]

    def popen(
        self, argv: Sequence[str], cwd: str | Path | None = None, **kwargs: Any
    ) -> subprocess.Popen[Any]:
        """Start ``argv`` on this host (kwargs go to Popen); ``kill`` ends it with the host."""
        kwargs.setdefault("start_new_session", True)
        process: subprocess.Popen[Any] = subprocess.Popen(self.command(argv, cwd), **kwargs)
        self._started.append(process)
        return process

    def run(
        self, argv: Sequence[str], cwd: str | Path | None = None, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` on this host to its end (kwargs go to subprocess.run)."""
        kwargs.setdefault("timeout", 60)
        return subprocess.run(self.command(argv, cwd), check=False, **kwargs)

    def kill(self) -> None:
        """The host dies: SIGKILL to every process group started on it with ``popen``."""
        for process in self._started:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # it may end on its own
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:  # a test that failed before reading them
                    stream.close()
        self._started.clear()

    def stop(self) -> None:
        """Kill what still runs on the host and end its namespace (its /tmp is gone)."""
        self.kill()
        if self._holder is not None:
            assert self._holder.stdin is not None
            self._holder.stdin.close()
            try:
                self._holder.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._holder.kill()
                self._holder.wait(timeout=10)
            for stream in (self._holder.stdout, self._holder.stderr):
                if stream is not None:
                    stream.close()
            self._holder = None
        self._remove_stage()

    def _remove_stage(self) -> None:
        if self._stage is not None:
            with contextlib.suppress(OSError):  # only the namespace mounted on it
                os.rmdir(self._stage)
            self._stage = None
