"""Fixtures for socket tests: a short private directory for socket files."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A fresh directory under /tmp: pytest's tmp_path can exceed the 107-byte limit of a
    Unix socket address."""
    path = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
