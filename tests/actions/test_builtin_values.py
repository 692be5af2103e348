"""Helpers shared by the built-in actions."""

from __future__ import annotations

from typing import Any

import pytest

from statemachine_engine.actions.builtin._values import as_bool, current_job_id, unresolved


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        (1, True),
        (0, False),
        (0.0, False),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("no", False),
        ("off", False),
        ("0", False),
        ("", False),
        ("null", False),
    ],
)
def test_as_bool(value: Any, expected: bool) -> None:
    assert as_bool(value, key="flag") is expected


@pytest.mark.parametrize("value", ["maybe", [], {}, "{flag}"])
def test_as_bool_rejects_the_rest(value: Any) -> None:
    with pytest.raises(ValueError, match=r"^flag: expected true or false, got "):
        as_bool(value, key="flag")


def test_current_job_id_order() -> None:
    assert current_job_id({"job_id": "", "current_job": {"job_id": None, "id": 5}}) == "5"
    assert current_job_id({"current_job": "not a dict"}) is None


def test_unresolved_lists_each_missing_name_once() -> None:
    context = {"a": {"b": 1}, "none": None}
    value = {"x": "{a.b} {a.c}", "y": ["{a.c}", "{none}"], "z": 3}
    assert unresolved(value, context) == ["a.c", "none"]
