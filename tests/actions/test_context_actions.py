"""``set_context``, ``add_to_list`` and ``pop_from_list``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import RunAction

# -- set_context ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, [], 0, False, "", {"a": {"b": [1, 2]}}, 3.5])
async def test_set_context_stores_any_value(run_action: RunAction, value: Any) -> None:
    context: dict[str, Any] = {"k": "old"}
    assert await run_action({"type": "set_context", "key": "k", "value": value}, context) == (
        "success"
    )
    assert context["k"] == value
    assert type(context["k"]) is type(value)


async def test_set_context_keeps_the_type_of_a_whole_placeholder(run_action: RunAction) -> None:
    payload = {"n": 1, "items": [1, 2]}
    context: dict[str, Any] = {"event_data": {"payload": payload}}
    config = {"type": "set_context", "key": "saved", "value": "{event_data.payload}"}
    await run_action(config, context)
    assert context["saved"] == payload


async def test_set_context_params_form_and_custom_event(run_action: RunAction) -> None:
    context: dict[str, Any] = {}
    config = {"type": "set_context", "params": {"key": "x", "value": 7, "success": "set"}}
    assert await run_action(config, context) == "set"
    assert context["x"] == 7


async def test_set_context_without_key_raises(run_action: RunAction) -> None:
    with pytest.raises(ValueError, match=r"set_context: the 'key' setting is required"):
        await run_action({"type": "set_context", "value": 1})


async def test_set_context_without_value_raises(run_action: RunAction) -> None:
    with pytest.raises(ValueError, match=r"the 'value' setting is required .*'k'"):
        await run_action({"type": "set_context", "key": "k"})


# -- add_to_list ---------------------------------------------------------------------------


async def test_add_to_list_creates_the_default_list(run_action: RunAction) -> None:
    context: dict[str, Any] = {}
    assert await run_action({"type": "add_to_list", "value": "a"}, context) == "success"
    assert await run_action({"type": "add_to_list", "value": 2}, context) == "success"
    assert context["items"] == ["a", 2]


async def test_add_to_list_named_list_keeps_types(run_action: RunAction) -> None:
    job = {"job_id": "j1", "data": {"n": 1}}
    context: dict[str, Any] = {"job": job, "queue": None}
    config = {"type": "add_to_list", "list_key": "queue", "value": "{job}", "success": "added"}
    assert await run_action(config, context) == "added"
    assert context["queue"] == [job]


async def test_add_to_list_params_form(run_action: RunAction) -> None:
    context: dict[str, Any] = {"queue": [1]}
    config = {"type": "add_to_list", "params": {"list_key": "queue", "value": 2}}
    assert await run_action(config, context) == "success"
    assert context["queue"] == [1, 2]


async def test_add_to_list_on_a_non_list_is_an_error_event(run_action: RunAction) -> None:
    context: dict[str, Any] = {"items": "text"}
    assert await run_action({"type": "add_to_list", "value": 1}, context) == "error"
    assert context["items"] == "text"
    assert context["last_error"] == "cannot add to 'items': it holds a str, not a list"
    assert context["last_error_action"] == "add_to_list"
    config = {"type": "add_to_list", "value": 1, "error": "bad_list"}
    assert await run_action(config, context) == "bad_list"


async def test_add_to_list_appends_an_unresolved_placeholder_with_a_warning(
    run_action: RunAction, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    context: dict[str, Any] = {}
    await run_action({"type": "add_to_list", "value": "job {nope.x}"}, context)
    assert context["items"] == ["job {nope.x}"]
    assert "placeholder(s) not found in the context, appended as written: nope.x" in caplog.text


async def test_add_to_list_without_value_raises(run_action: RunAction) -> None:
    with pytest.raises(ValueError, match=r"add_to_list: the 'value' setting is required"):
        await run_action({"type": "add_to_list", "list_key": "x"})


async def test_add_to_list_value_null_is_appended(run_action: RunAction) -> None:
    context: dict[str, Any] = {}
    await run_action({"type": "add_to_list", "value": None}, context)
    assert context["items"] == [None]


# -- pop_from_list -------------------------------------------------------------------------


async def test_pop_from_list_takes_the_first_item(run_action: RunAction) -> None:
    context: dict[str, Any] = {"items": [{"id": 1}, {"id": 2}]}
    config = {"type": "pop_from_list", "store_as": "current"}
    assert await run_action(config, context) == "item_popped"
    assert context["current"] == {"id": 1}
    assert context["items"] == [{"id": 2}]


async def test_pop_from_list_without_store_as_drops_the_item(run_action: RunAction) -> None:
    context: dict[str, Any] = {"items": [1, 2]}
    assert await run_action({"type": "pop_from_list"}, context) == "item_popped"
    assert context == {"items": [2], "machine_name": "tester"}


@pytest.mark.parametrize("items", [[], None, "missing"])
async def test_pop_from_list_empty_or_missing(run_action: RunAction, items: Any) -> None:
    context: dict[str, Any] = {"current": "previous"}
    if items != "missing":
        context["items"] = items
    config = {"type": "pop_from_list", "store_as": "current"}
    assert await run_action(config, context) == "list_empty"
    assert context["current"] == "previous"
    assert "last_error" not in context


async def test_pop_from_list_custom_events_and_params_form(run_action: RunAction) -> None:
    context: dict[str, Any] = {"q": [5]}
    config = {
        "type": "pop_from_list",
        "params": {"list_key": "q", "store_as": "n", "success": "got", "empty": "none_left"},
    }
    assert await run_action(config, context) == "got"
    assert context["n"] == 5
    assert await run_action(config, context) == "none_left"


async def test_pop_from_list_on_a_non_list_is_an_error_event(run_action: RunAction) -> None:
    context: dict[str, Any] = {"items": {"a": 1}}
    assert await run_action({"type": "pop_from_list"}, context) == "error"
    assert context["last_error"] == "cannot pop from 'items': it holds a dict, not a list"
    assert context["last_error_action"] == "pop_from_list"
