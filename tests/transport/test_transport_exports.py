"""The transport package's public names: complete, importable, and trio-free where promised."""

from __future__ import annotations

import subprocess
import sys

import statemachine_engine.transport as transport


def test_every_public_name_resolves() -> None:
    assert transport.__all__ == sorted(
        transport.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n)
    )
    for name in transport.__all__:
        assert getattr(transport, name) is not None, name


def test_command_line_clients_do_not_import_trio() -> None:
    code = (
        "import sys\n"
        "from statemachine_engine.transport import send_message, send_events, resolve_socket_path\n"
        "assert 'trio' not in sys.modules, 'trio was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
