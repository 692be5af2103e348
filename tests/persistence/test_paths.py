"""Where the database is: --db, else $STATEMACHINE_DB, else ./data/pipeline.db."""

from __future__ import annotations

import os

import pytest

from statemachine_engine.persistence import DB_ENV_VAR, DEFAULT_DB_PATH, resolve_db_path


def test_flag_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENV_VAR, "/from/env.db")
    assert resolve_db_path("/from/flag.db") == "/from/flag.db"


def test_environment_when_no_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_ENV_VAR, "/from/env.db")
    assert resolve_db_path(None) == "/from/env.db"
    assert resolve_db_path("") == "/from/env.db"


def test_default_is_the_published_packages_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DB_ENV_VAR, raising=False)
    assert resolve_db_path() == os.path.join("data", "pipeline.db") == DEFAULT_DB_PATH


def test_memory_and_home_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert resolve_db_path(":memory:") == ":memory:"
    assert resolve_db_path("~/jobs.db") == "/home/someone/jobs.db"
