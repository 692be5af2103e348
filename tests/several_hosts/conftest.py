"""Two simulated hosts sharing one PostgreSQL database (the slow several-hosts tests).

* ``site`` -- a :class:`Site`: hosts ``a`` and ``b`` (tests/hosts.py: a mount namespace with a
  private /tmp each, so neither sees the other's control sockets) and a working folder both
  see (under /var/tmp, outside the private /tmp: configs, actions, logs, run records).
  Commands started on a host get ``--db`` the test's database over 127.0.0.1 and
  ``STATEMACHINE_HOST`` the host's name (the hosts share the kernel's host name).

Waits poll the database with a bound (``Site.wait``); teardown kills what the hosts run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hosts import Host

BIN = Path(sys.executable).parent
STATEMACHINE = str(BIN / "statemachine")
STATEMACHINE_DB = str(BIN / "statemachine-db")
STATEMACHINE_UI = str(BIN / "statemachine-ui")


class Site:
    """Hosts ``a`` and ``b`` on one database, and the folder they share."""

    def __init__(self, url: str, root: Path, hosts: dict[str, Host]) -> None:
        self.url = url
        self.root = root
        self.hosts = hosts

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def env(self, host: str) -> dict[str, str]:
        return {**os.environ, "STATEMACHINE_HOST": host, "STATEMACHINE_DB": self.url}

    def start(self, host: str, argv: list[str], label: str) -> subprocess.Popen[Any]:
        """Start ``argv`` on ``host``, output to ``<label>.out`` in the shared folder."""
        log = (self.root / f"{label}.out").open("ab")
        try:
            return self.hosts[host].popen(
                argv,
                cwd=self.root,
                env=self.env(host),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    def machine(self, host: str, config: Path, name: str, *args: str) -> subprocess.Popen[Any]:
        """``statemachine CONFIG --machine-name NAME`` on ``host``."""
        argv = [STATEMACHINE, str(config), "--machine-name", name, "--db", self.url, *args]
        return self.start(host, argv, f"{host}-{name}")

    def run(
        self, host: str, argv: list[str], timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command on ``host`` to its end, its output captured."""
        return self.hosts[host].run(
            argv,
            cwd=self.root,
            env=self.env(host),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def query(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.url, autocommit=True, row_factory=dict_row) as conn:
            return list(conn.execute(sql, params))

    def value(self, sql: str, *params: Any) -> Any:
        rows = self.query(sql, *params)
        return next(iter(rows[0].values())) if rows else None

    def wait(self, what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Wait until ``condition()`` holds (the database is looked at every 50 ms); fail
        naming ``what`` and the hosts' output when ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what}\n{self.logs()}"
                )
            time.sleep(0.05)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.root.glob("*.out"))
        )


def _create_schema(url: str) -> None:
    """The tables, as the first runtime would create them (the tests query them first)."""
    import trio

    from statemachine_engine.persistence import open_store

    async def open_once() -> None:
        async with open_store(url):
            pass

    trio.run(open_once)


@pytest.fixture
def site(pg_url: str) -> Iterator[Site]:
    _create_schema(pg_url)
    root = Path(tempfile.mkdtemp(prefix="sm-hosts-", dir="/var/tmp"))
    try:
        with Host("a") as a, Host("b") as b:
            yield Site(pg_url, root, {"a": a, "b": b})
    finally:
        shutil.rmtree(root, ignore_errors=True)
