"""Fixtures shared by the whole suite (keep this small; per-area fixtures live beside their tests).

* ``recorder`` -- a fresh RecordingPublisher (every machine event a runtime publishes).
* ``upstream`` -- the folder of YAML copies of the published package's README examples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from statemachine_engine.transport import RecordingPublisher

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def recorder() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def upstream() -> Path:
    return FIXTURES / "upstream"
