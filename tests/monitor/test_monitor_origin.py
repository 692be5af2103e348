"""The Origin rule of the WebSocket handshake, and the monitor package's public names."""

from __future__ import annotations

import pytest

import statemachine_engine.monitor as monitor
import statemachine_engine.monitoring as monitoring
from statemachine_engine.monitor._origin import host_of, origin_allowed


@pytest.mark.parametrize(
    ("origin", "host_header", "bind", "allowed", "ok"),
    [
        (None, None, "127.0.0.1", (), True),
        ("http://localhost:3001", "localhost:3002", "127.0.0.1", (), True),
        ("http://[::1]:3001", "[::1]:3002", "::1", (), True),
        ("http://app.localhost:3001", None, "127.0.0.1", (), True),
        # on loopback, a page whose host merely resolves here (DNS rebinding) is refused
        ("http://evil.example:3001", "evil.example:3002", "127.0.0.1", (), False),
        # bound to a LAN address: the page's host must be the one the browser connected to
        ("http://10.0.0.5:3001", "10.0.0.5:3002", "10.0.0.5", (), True),
        ("http://monitor.lan:3001", "monitor.lan:3002", "0.0.0.0", (), True),
        ("http://evil.example:3001", "monitor.lan:3002", "0.0.0.0", (), False),
        ("http://Dash.Example", None, "127.0.0.1", ("dash.example",), True),
        ("null", None, "127.0.0.1", (), False),
        ("null", None, "127.0.0.1", ("null",), True),
        ("not a url", None, "127.0.0.1", (), False),
    ],
)
def test_origin_rule(
    origin: str | None, host_header: str | None, bind: str, allowed: tuple[str, ...], ok: bool
) -> None:
    assert origin_allowed(origin, host_header=host_header, bind_host=bind, allowed=allowed) is ok


def test_host_of() -> None:
    assert host_of("Example.com:8080") == "example.com"
    assert host_of("[::1]:3001") == "::1"
    assert host_of("http://a.b:1/x") == "a.b"
    assert host_of("") is None
    assert host_of(None) is None


@pytest.mark.parametrize("module", [monitor, monitoring])
def test_public_names_are_sorted_and_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    # constants, then classes, then functions (ruff's RUF022 order), each alphabetical
    kinds = sorted(names, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    assert names == kinds
    for name in names:
        assert getattr(module, name) is not None
