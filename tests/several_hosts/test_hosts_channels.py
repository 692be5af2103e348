"""The NOTIFY channel of a host's inbox: one per host, within PostgreSQL's identifier length,
and the host a runtime is known by."""

from __future__ import annotations

import pytest

from statemachine_engine.persistence import remote_sql


def test_each_host_has_its_own_channel_within_postgresqls_63_bytes() -> None:
    assert remote_sql.inbox_channel("host-a") == "statemachine_inbox:host-a"
    long_a = "worker-" + "x" * 80 + ".eu-west-1.compute.internal"
    long_b = "worker-" + "x" * 80 + ".us-east-1.compute.internal"
    channels = {remote_sql.inbox_channel(h) for h in (long_a, long_b)}
    assert len(channels) == 2  # truncation would have made them one
    assert all(len(c.encode()) <= 63 for c in channels)


def test_a_channel_is_quoted_as_an_identifier() -> None:
    assert remote_sql.quoted('statemachine_inbox:a"b') == '"statemachine_inbox:a""b"'


def test_the_host_is_statemachine_host_else_the_host_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATEMACHINE_HOST", "rack-7")
    assert remote_sql.host_name() == "rack-7"
    monkeypatch.delenv("STATEMACHINE_HOST")
    import socket

    assert remote_sql.host_name() == socket.gethostname()
