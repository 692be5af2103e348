"""Simulated hosts: a Unix socket made on one is invisible on the other; both reach PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from hosts import Host

SOCKET = "/tmp/sm-host-probe.sock"

# Listens on SOCKET, says so, answers one connection with "hello", then exits (or after 30 s).
LISTENER = f"""
import socket
server = socket.socket(socket.AF_UNIX)
server.bind({SOCKET!r})
server.listen()
server.settimeout(30)
print("listening", flush=True)
conn, _ = server.accept()
conn.sendall(b"hello")
conn.close()
"""

CONNECT = f"""
import socket, sys
client = socket.socket(socket.AF_UNIX)
client.settimeout(10)
try:
    client.connect({SOCKET!r})
except OSError as exc:
    print(type(exc).__name__)
    sys.exit(1)
print(client.recv(5).decode())
"""


@pytest.fixture
def two_hosts() -> Iterator[tuple[Host, Host]]:
    with Host("a") as a, Host("b") as b:
        yield a, b


def test_a_socket_made_on_one_host_is_invisible_on_the_other(two_hosts: tuple[Host, Host]) -> None:
    a, b = two_hosts
    listener = a.popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None
    assert listener.stdout.readline().strip() == "listening"

    on_b = b.run([sys.executable, "-c", CONNECT], capture_output=True, text=True)
    assert (on_b.returncode, on_b.stdout.strip()) == (1, "FileNotFoundError")

    on_a = a.run([sys.executable, "-c", CONNECT], capture_output=True, text=True)
    assert (on_a.returncode, on_a.stdout.strip()) == (0, "hello")
    assert listener.wait(timeout=10) == 0
    listener.stdout.close()


def test_a_hosts_tmp_is_not_ours(two_hosts: tuple[Host, Host]) -> None:
    a, _ = two_hosts
    made = a.run(["sh", "-c", "touch /tmp/sm-host-only && ls /tmp"], capture_output=True, text=True)
    # only what it made, and the checkout when that lies under /tmp itself
    kept = {path.relative_to("/tmp").parts[0] for path in a.kept}
    assert sorted(made.stdout.split()) == sorted({"sm-host-only", *kept})
    listed = subprocess.run(["ls", "/tmp"], capture_output=True, text=True, check=True)
    assert "sm-host-only" not in listed.stdout.split()


def test_a_command_runs_in_our_folder(two_hosts: tuple[Host, Host]) -> None:
    a, _ = two_hosts
    assert a.run(["pwd"], capture_output=True, text=True).stdout.strip() == os.getcwd()


def test_both_hosts_reach_postgresql_over_loopback(
    two_hosts: tuple[Host, Host], pg_url: str
) -> None:
    probe = (
        "import psycopg, sys; print(psycopg.connect(sys.argv[1]).execute('SELECT 1').fetchone())"
    )
    for host in two_hosts:
        done = host.run([sys.executable, "-c", probe, pg_url], capture_output=True, text=True)
        assert (done.returncode, done.stdout.strip()) == (0, "(1,)"), done.stderr


def test_a_killed_host_leaves_no_process(two_hosts: tuple[Host, Host]) -> None:
    a, _ = two_hosts
    sleeper = a.popen(["sleep", "60"])
    a.kill()
    assert sleeper.returncode == -9
