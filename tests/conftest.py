"""Fixtures shared by the whole suite (keep this small; per-area fixtures live beside their tests).

* ``recorder`` -- a fresh RecordingPublisher (every machine event a runtime publishes).
* ``upstream`` -- the folder of YAML copies of the published package's README examples.
* ``pg_cluster`` -- a throwaway PostgreSQL server for the whole session, started on first use
  and removed at the end (tests/pg_cluster.py). Without PostgreSQL it fails, never skips.
* ``pg_url`` -- a fresh empty database on that server for one test (dropped after it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import Cluster, PostgresUnavailable, start_cluster

from statemachine_engine.transport import RecordingPublisher

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def recorder() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def upstream() -> Path:
    return FIXTURES / "upstream"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    url = pg_cluster.create_database()
    try:
        yield url
    finally:
        pg_cluster.drop_database(url)
