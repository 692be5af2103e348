"""Fixtures of the monitor tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A fresh folder with a short path (Unix socket paths must stay under ~100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sm", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
