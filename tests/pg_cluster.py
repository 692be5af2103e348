"""A throwaway PostgreSQL server for the test suite, started with Debian's initdb and pg_ctl.

The suite never touches a server it did not start: ``start_cluster`` creates a cluster in a
fresh temporary folder, listening on 127.0.0.1 only (a free port) with its Unix socket inside
that folder, and ``Cluster.stop`` stops it (``pg_ctl stop -m immediate``) and removes the
folder. Durability settings are off (fsync, synchronous_commit, full_page_writes): the data is
thrown away at the end, and a test suite that waits for disks is a slow one.

initdb refuses to run as root; CI runs as root, so there the server's commands run as the
``postgres`` user (``runuser``) in a folder chowned to it.

Each test gets its own database (``Cluster.create_database``, copied from a template the
cluster keeps empty), dropped after the test with ``WITH (FORCE)`` so a connection the test
left open does not keep it alive.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Said by every failure to find or start PostgreSQL: the suite needs a real server, and
# skipping the PostgreSQL tests on a machine without one would hide a broken backend.
HOW_TO_GET_IT = (
    "the PostgreSQL tests need Debian's 'postgresql' package (initdb and pg_ctl under "
    "/usr/lib/postgresql/*/bin) and the psycopg driver: `make test` installs both "
    "(or: apt-get install postgresql; pip install -e '.[dev]')"
)

SERVER_USER = "postgres"
TEMPLATE = "sm_template"
MAX_CONNECTIONS = 200

# Settings of a server whose data nobody keeps.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": str(MAX_CONNECTIONS),
    "shared_buffers": "'32MB'",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


# Run beside the test session: waits for its stdin to close -- the session stopping the
# cluster, or dying, even of SIGKILL -- then stops the server and removes its folder, so a
# killed test run leaves no server behind. argv: the stop command..., then the folder.
REAPER = """
import shutil, subprocess, sys
sys.stdin.read()
subprocess.run(sys.argv[1:-1], capture_output=True, check=False)
shutil.rmtree(sys.argv[-1], ignore_errors=True)
"""


class PostgresUnavailable(RuntimeError):
    """PostgreSQL or psycopg is missing, or the throwaway server did not start."""


def find_bindir(debian_root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The folder of initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, else PATH."""
    debian = sorted(
        debian_root.glob("*/bin/initdb"),
        key=lambda p: _version_key(p.parent.parent.name),
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    if on_path is not None:
        return Path(on_path).parent
    raise PostgresUnavailable(f"initdb not found; {HOW_TO_GET_IT}")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (the server may still lose a race
    for it; ``start_cluster`` then tries another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(argv: Sequence[str]) -> list[str]:
    if os.geteuid() != 0:
        return list(argv)
    return ["runuser", "-u", SERVER_USER, "--", *argv]


def _run(argv: Sequence[str], what: str) -> None:
    done = subprocess.run(
        _as_server_user(argv), capture_output=True, text=True, check=False, timeout=120
    )
    if done.returncode != 0:
        raise PostgresUnavailable(
            f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}"
        )


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise PostgresUnavailable(f"psycopg is not installed; {HOW_TO_GET_IT}") from exc
    return psycopg


@dataclass
class Cluster:
    """A running throwaway server: its folder, port and the databases made for tests."""

    root: Path
    bindir: Path
    port: int
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _reaper: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        """A connection URL over TCP (what runtimes "on other hosts" use)."""
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    def admin_sql(self, statement: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        psycopg = _psycopg()
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)

    def create_database(self) -> str:
        """A fresh empty database copied from the cluster's template; returns its URL."""
        name = f"test_{next(self._names)}"
        # FILE_COPY: a copy of the template's files and a checkpoint (cheap with fsync off)
        # takes about half the time of the default WAL_LOG for a small database.
        self.admin_sql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop_server(self) -> None:
        """Stop the server as an administrator would (``pg_ctl stop -m fast``: connections
        are cut, the data stays); :meth:`start_server` brings it back on the same port."""
        pg_ctl = str(self.bindir / "pg_ctl")
        _run([pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w"], "pg_ctl stop")

    def start_server(self) -> None:
        """Start the stopped server again, on the same port."""
        _run(
            [
                str(self.bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.log_file),
                "-o",
                f"-p {self.port}",
            ],
            "pg_ctl start",
        )

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove its folder."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                _run(self._stop_argv(), "pg_ctl stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            if self._reaper is not None:
                assert self._reaper.stdin is not None
                self._reaper.stdin.close()  # nothing left for it to do
                self._reaper.wait(timeout=30)

    def _stop_argv(self) -> list[str]:
        pg_ctl = str(self.bindir / "pg_ctl")
        return [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "immediate", "-w"]

    def watch(self) -> None:
        """Start the reaper that stops the server if this process dies without stop()."""
        self._reaper = subprocess.Popen(
            [sys.executable, "-c", REAPER, *_as_server_user(self._stop_argv()), str(self.root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the session's process group: a Ctrl-C spares it
        )


def start_cluster(attempts: int = 3) -> Cluster:
    """initdb a cluster in a new temporary folder and start it on a free port.

    Raises PostgresUnavailable, whose message says how to install what is missing.
    """
    bindir = find_bindir()
    _psycopg()  # missing driver: say so before spending a second on initdb
    root = Path(tempfile.mkdtemp(prefix="sm-pg-", dir="/tmp"))
    try:
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVER_USER)
            os.chown(root, account.pw_uid, account.pw_gid)
        cluster = Cluster(root=root, bindir=bindir, port=0)
        cluster.socket_dir.mkdir()
        if os.geteuid() == 0:
            os.chown(cluster.socket_dir, account.pw_uid, account.pw_gid)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                SERVER_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
        )
        with (cluster.data_dir / "postgresql.conf").open("a") as conf:
            for key, value in SETTINGS.items():
                conf.write(f"{key} = {value}\n")
            conf.write(f"unix_socket_directories = '{cluster.socket_dir}'\n")
        _start(cluster, attempts)
        cluster.watch()
        cluster.admin_sql(f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0')
        return cluster
    except BaseException:
        if "cluster" in locals():
            cluster.stop()
        else:
            shutil.rmtree(root, ignore_errors=True)
        raise


def _start(cluster: Cluster, attempts: int) -> None:
    # The free port may be taken between the probe and the server's bind: try another.
    for attempt in range(attempts):
        cluster.port = free_port()
        try:
            _run(
                [
                    str(cluster.bindir / "pg_ctl"),
                    "start",
                    "-D",
                    str(cluster.data_dir),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(cluster.log_file),
                    "-o",
                    f"-p {cluster.port}",
                ],
                "pg_ctl start",
            )
            return
        except PostgresUnavailable as exc:
            if attempt == attempts - 1:
                log = cluster.log_file.read_text() if cluster.log_file.exists() else ""
                raise PostgresUnavailable(f"{exc}\nserver log:\n{log[-2000:]}") from None
