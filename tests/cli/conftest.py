"""Fixtures of the command tests (the helpers are in cli_support.py).

* ``place`` -- a :class:`~cli_support.Place` in a fresh folder under /tmp, removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Place


@pytest.fixture
def place() -> Iterator[Place]:
    root = Path(tempfile.mkdtemp(prefix="smcli", dir="/tmp"))
    try:
        yield Place(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
