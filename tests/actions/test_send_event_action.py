"""The ``send_event`` action."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

from statemachine_engine.errors import ActorStopped, DeliveryError, TransportError

if TYPE_CHECKING:
    from conftest import FakeHost, RunAction


async def test_sends_with_defaults(run_action: RunAction, fake_host: FakeHost) -> None:
    assert await run_action({"type": "send_event", "target_machine": "worker"}) == "event_sent"
    [sent] = fake_host.sent
    assert (sent.target, sent.event_type, sent.payload, sent.job_id) == (
        "worker",
        "generic_event",
        {},
        None,
    )


async def test_target_alias_event_type_and_custom_success(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    config = {"type": "send_event", "target": "w", "event_type": "go", "success": "told"}
    assert await run_action(config) == "told"
    assert [(s.target, s.event_type) for s in fake_host.sent] == [("w", "go")]


async def test_params_form(run_action: RunAction, fake_host: FakeHost) -> None:
    config = {
        "type": "send_event",
        "params": {"target_machine": "w", "event_type": "go", "payload": {"n": "{n}"}},
    }
    assert await run_action(config, {"n": 3}) == "event_sent"
    assert fake_host.sent[0].payload == {"n": 3}


async def test_payload_values_keep_their_types(run_action: RunAction, fake_host: FakeHost) -> None:
    context: dict[str, Any] = {
        "count": 3,
        "flag": False,
        "items": [1, {"a": None}],
        "job": {"id": 7, "tags": ["x"]},
    }
    payload = {
        "count": "{count}",
        "flag": "{flag}",
        "items": "{items}",
        "job": "{job}",
        "text": "job {job.id} of {count}",
        "literal": 1.5,
        "nested": {"inner": "{job.tags}"},
    }
    await run_action({"type": "send_event", "target_machine": "w", "payload": payload}, context)
    assert fake_host.sent[0].payload == {
        "count": 3,
        "flag": False,
        "items": [1, {"a": None}],
        "job": {"id": 7, "tags": ["x"]},
        "text": "job 7 of 3",
        "literal": 1.5,
        "nested": {"inner": ["x"]},
    }


async def test_payload_is_a_copy(run_action: RunAction, fake_host: FakeHost) -> None:
    job = {"id": 7, "tags": ["x"]}
    context: dict[str, Any] = {"event_data": {"payload": {"job": job}}}
    config = {"type": "send_event", "target_machine": "w", "payload": "{event_data.payload}"}
    await run_action(config, context)
    sent = fake_host.sent[0].payload
    assert sent == {"job": job}
    sent["job"]["tags"].append("changed by the receiver")
    assert job == {"id": 7, "tags": ["x"]}


async def test_whole_event_data_payload_is_forwarded(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {"event_data": {"payload": {"job_id": "j1", "n": [1, 2]}}}
    config = {"type": "send_event", "target_machine": "w", "payload": "{event_data.payload}"}
    await run_action(config, context)
    assert fake_host.sent[0].payload == {"job_id": "j1", "n": [1, 2]}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('{"a": 1, "b": [true]}', {"a": 1, "b": [True]}),
        ("  {}", {}),
        ("hello", {"value": "hello"}),
        ("[1, 2]", {"value": "[1, 2]"}),
        ("{not json", {"value": "{not json"}),
        ([1, 2], {"value": [1, 2]}),
        (5, {"value": 5}),
        (None, {}),
    ],
)
async def test_payload_shapes(
    run_action: RunAction, fake_host: FakeHost, payload: Any, expected: dict[str, Any]
) -> None:
    await run_action({"type": "send_event", "target_machine": "w", "payload": payload})
    assert fake_host.sent[0].payload == expected


async def test_unresolved_placeholders_stay_as_written_with_a_warning(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    payload = {"a": "{missing}", "b": "id {job.nope}", "c": "{present}"}
    config = {"type": "send_event", "target_machine": "w", "event_type": "go", "payload": payload}
    assert await run_action(config, {"present": 0, "job": {}}) == "event_sent"
    assert fake_host.sent[0].payload == {"a": "{missing}", "b": "id {job.nope}", "c": 0}
    [record] = [r for r in caplog.records if "placeholder" in r.getMessage()]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "[tester] send_event go to w: placeholder(s) not found in the context, sent as "
        "written: missing, job.nope"
    )


async def test_unresolved_whole_payload_placeholder(
    run_action: RunAction, fake_host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    config = {"type": "send_event", "target_machine": "w", "payload": "{event_data.payload}"}
    await run_action(config)
    assert fake_host.sent[0].payload == {"value": "{event_data.payload}"}
    assert "sent as written: event_data.payload" in caplog.text


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, None),
        ({"job_id": "j1", "current_job": {"job_id": "j2"}}, "j1"),
        ({"current_job": {"job_id": "j2", "id": "j3"}}, "j2"),
        ({"current_job": {"id": "j3"}}, "j3"),
        ({"current_job": {"id": 12}}, "12"),
    ],
)
async def test_job_id_defaults_to_the_current_job(
    run_action: RunAction, fake_host: FakeHost, context: dict[str, Any], expected: str | None
) -> None:
    await run_action({"type": "send_event", "target_machine": "w"}, context)
    assert fake_host.sent[0].job_id == expected


async def test_explicit_job_id(run_action: RunAction, fake_host: FakeHost) -> None:
    config = {"type": "send_event", "target_machine": "w", "job_id": "{batch.id}"}
    await run_action(config, {"batch": {"id": 9}, "job_id": "j1"})
    assert fake_host.sent[0].job_id == "9"


async def test_unresolved_explicit_job_id_falls_back_to_the_current_job(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    config = {"type": "send_event", "target_machine": "w", "job_id": "{nope}"}
    await run_action(config, {"job_id": "j1"})
    assert fake_host.sent[0].job_id == "j1"


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (True, None),
        ("true", None),
        ("Yes", None),
        (1, None),
        (False, "event_sent"),
        ("false", "event_sent"),
        ("no", "event_sent"),
        ("0", "event_sent"),
        (0, "event_sent"),
        (None, "event_sent"),
    ],
)
async def test_fire_and_forget(
    run_action: RunAction, fake_host: FakeHost, flag: Any, expected: str | None
) -> None:
    config = {"type": "send_event", "target_machine": "w", "fire_and_forget": flag}
    assert await run_action(config) == expected
    assert len(fake_host.sent) == 1


async def test_fire_and_forget_not_bool_like_raises(run_action: RunAction) -> None:
    config = {"type": "send_event", "target_machine": "w", "fire_and_forget": "maybe"}
    with pytest.raises(ValueError, match=r"fire_and_forget: expected true or false, got 'maybe'"):
        await run_action(config)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (ActorStopped("w", "final state"), "machine 'w' is not running (final state)"),
        (TransportError("connection refused", target="w"), "connection refused"),
        (DeliveryError("unknown event", target="w"), "unknown event"),
        (LookupError("no machine named 'w'"), "no machine named 'w'"),
    ],
)
async def test_delivery_failure_is_the_error_event(
    run_action: RunAction, fake_host: FakeHost, error: BaseException, reason: str
) -> None:
    fake_host.send_error = error
    context: dict[str, Any] = {}
    config = {"type": "send_event", "target_machine": "w", "event_type": "go"}
    assert await run_action(config, context) == "error"
    assert context["last_error"] == f"could not deliver go to w: {reason}"
    assert context["last_error_action"] == "send_event"
    assert fake_host.errors == [("send_event", f"could not deliver go to w: {reason}")]


async def test_delivery_failure_custom_error_event_even_when_fire_and_forget(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    fake_host.send_error = TransportError("gone")
    config = {
        "type": "send_event",
        "target_machine": "w",
        "fire_and_forget": True,
        "error": "send_failed",
    }
    assert await run_action(config) == "send_failed"


async def test_unresolved_target_is_the_error_event(
    run_action: RunAction, fake_host: FakeHost
) -> None:
    context: dict[str, Any] = {}
    config = {"type": "send_event", "target_machine": "worker_{job_id}", "event_type": "go"}
    assert await run_action(config, context) == "error"
    assert context["last_error"] == (
        "could not deliver go to worker_{job_id}: placeholder(s) not found in the context: job_id"
    )
    assert fake_host.sent == []


async def test_target_is_interpolated(run_action: RunAction, fake_host: FakeHost) -> None:
    config = {"type": "send_event", "target_machine": "worker_{job_id}"}
    await run_action(config, {"job_id": "007"})
    assert fake_host.sent[0].target == "worker_007"


@pytest.mark.parametrize("config", [{}, {"target_machine": ""}, {"target": None}])
async def test_missing_target_raises(run_action: RunAction, config: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"send_event: the 'target_machine' setting is required"):
        await run_action({"type": "send_event", **config})
