"""The ``Job`` record: what a hand-over changes and what the context gets."""

from __future__ import annotations

from typing import Any

import attrs

from statemachine_engine.persistence import Job
from statemachine_engine.persistence._protocol import JOB_FIELDS


def every_field_set() -> Job:
    """A job none of whose fields holds its default, each a different value."""
    values: dict[str, Any] = {}
    for i, field in enumerate(attrs.fields(Job)):
        values[field.name] = {"data": {"k": i}, "result": [i]}.get(field.name, i + 100)
    job = Job(**values)
    for field in attrs.fields(Job):
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        assert getattr(job, field.name) != default, field.name
    return job


def test_a_hand_over_counts_an_attempt_sets_started_at_and_keeps_every_other_field() -> None:
    job = every_field_set()
    started = job.started(12.5)
    assert started.attempts == job.attempts + 1
    assert started.started_at == 12.5
    for name in JOB_FIELDS:
        if name not in ("attempts", "started_at"):
            assert getattr(started, name) == getattr(job, name), name


def test_as_dict_has_every_field_and_a_copy_of_the_data() -> None:
    job = every_field_set()
    row = job.as_dict()
    assert list(row) == list(JOB_FIELDS)
    assert row == {name: getattr(job, name) for name in JOB_FIELDS}
    row["data"]["k"] = "changed"
    assert job.data == {"k": 5}
