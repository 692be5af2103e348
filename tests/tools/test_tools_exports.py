"""statemachine_engine.tools exports a sorted, importable, complete public API."""

from __future__ import annotations

import statemachine_engine.tools as tools


def test_all_is_sorted_and_importable() -> None:
    # constants first, then classes, then functions (isort's order, as ruff keeps it)
    assert tools.__all__ == sorted(
        tools.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n)
    )
    for name in tools.__all__:
        assert getattr(tools, name) is not None


def test_nothing_public_is_left_out() -> None:
    helpers = {"TYPE_CHECKING", "annotations", "lazy_exports"}
    public = {n for n in vars(tools) if not n.startswith("_")} - helpers
    assert public <= set(tools.__all__)
    assert set(dir(tools)) == set(tools.__all__)
