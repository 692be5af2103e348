"""Writes gathered into one write per batch (persistence._coalesce): what each item's
caller is told, and a batch run again after a lost connection."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from statemachine_engine.persistence._coalesce import Coalesced


class FakeWriter:
    """Keeps what was submitted; the test runs it as the writer would."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.submitted: list[tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]] = []

    def submit(self, fn: Any, *, after: Any, failed: Any, single: bool) -> bool:
        assert single
        if self.accept:
            self.submitted.append((fn, after, failed))
        return self.accept


def _doubled(conn: Any, items: Sequence[int], now: float) -> list[Any]:
    conn.append(list(items))
    return [ValueError(f"odd {i}") if i % 2 else i * 2 for i in items]


def _coalesced(writer: FakeWriter) -> Coalesced[int, int]:
    return Coalesced(writer, _doubled)  # type: ignore[arg-type]


def test_items_added_before_the_write_runs_ride_along_and_each_is_answered() -> None:
    writer = FakeWriter()
    gathered = _coalesced(writer)
    told: list[str] = []
    for i in (2, 3, 4):
        assert gathered.add(
            i, after=lambda r: told.append(f"ok {r}"), failed=lambda e: told.append(str(e))
        )
    assert len(writer.submitted) == 1
    fn, after, _ = writer.submitted[0]
    conn: list[list[int]] = []
    after(fn(conn, 0.0))
    assert conn == [[2, 3, 4]]
    assert told == ["ok 4", "odd 3", "ok 8"]
    # the write took them: the next item queues a write of its own
    gathered.add(6, after=told.append, failed=told.append)
    assert len(writer.submitted) == 2


def test_a_write_run_again_writes_the_same_items() -> None:
    writer = FakeWriter()
    gathered = _coalesced(writer)
    gathered.add(2, after=lambda r: None, failed=lambda e: None)
    fn, _, _ = writer.submitted[0]
    conn: list[list[int]] = []
    fn(conn, 0.0)
    gathered.add(4, after=lambda r: None, failed=lambda e: None)  # a new gathering
    fn(conn, 0.0)  # the batch is run again after a lost connection
    assert conn == [[2], [2]]


def test_a_failed_write_fails_each_of_its_items_and_only_those() -> None:
    writer = FakeWriter()
    gathered = _coalesced(writer)
    failed: list[int] = []
    for i in (2, 4):
        gathered.add(i, after=lambda r: None, failed=lambda e, i=i: failed.append(i))
    fn, _, fail = writer.submitted[0]
    fn([], 0.0)
    gathered.add(6, after=lambda r: None, failed=lambda e: failed.append(6))
    fail(RuntimeError("the database is gone"))
    assert failed == [2, 4]


def test_an_item_the_write_queue_cannot_take_is_refused_and_forgotten() -> None:
    writer = FakeWriter(accept=False)
    gathered = _coalesced(writer)
    assert not gathered.add(2, after=lambda r: None, failed=lambda e: None)
    writer.accept = True
    assert gathered.add(4, after=lambda r: None, failed=lambda e: None)
    conn: list[list[int]] = []
    writer.submitted[0][0](conn, 0.0)
    assert conn == [[4]]
