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


@pytest.fixture(autouse=True)
def token_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write tokens a monitor generates go to a folder of the test, not the user's."""
    folder = tmp_path / "runtime"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder / "statemachine-engine"
