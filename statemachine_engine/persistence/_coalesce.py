"""Writes nobody waits on, gathered into one write per batch: :class:`Coalesced`.

A worker draining a queue completes a job, and starts the next one claimed ahead for it,
thousands of times a second, each a one-row UPDATE nobody waits for. On SQLite such a
statement is tens of microseconds inline; on PostgreSQL each is a statement the server
parses, plans and answers, and the writer thread's time goes there. So these writes are
not queued one by one: the first of a batch queues one write that, when the writer runs it,
takes every item gathered meanwhile and hands them to ``write_many`` (one statement for all
on PostgreSQL). What each item's caller is told is as before: ``after(result)`` for those
written, ``failed(error)`` for those that were not.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from statemachine_engine.persistence._writer import Writer

I = TypeVar("I")  # noqa: E741  # an item
R = TypeVar("R")  # what writing one item gave

#: write_many(conn, items, now) -> one outcome per item: a result, or the exception that
#: item's write raised (the others were written all the same)
WriteMany = Callable[[Any, Sequence[I], float], Sequence[R | BaseException]]


class Coalesced(Generic[I, R]):
    """Items gathered until the writer takes them, written with one ``write_many``."""

    def __init__(self, writer: Writer, write_many: WriteMany[I, R]) -> None:
        self._writer = writer
        self._write_many = write_many
        # the writer takes the items in its own thread on PostgreSQL
        self._lock = threading.Lock()
        self._items: list[I] = []
        self._callbacks: list[tuple[Callable[[R], None], Callable[[BaseException], None]]] = []
        self._queued = False

    def add(
        self, item: I, *, after: Callable[[R], None], failed: Callable[[BaseException], None]
    ) -> bool:
        """Queue ``item``; False when the write queue cannot take it (nothing queued)."""
        with self._lock:
            if self._queued:
                self._items.append(item)
                self._callbacks.append((after, failed))
                return True
        taken: list[tuple[list[I], list[Any]]] = []

        def write(conn: Any, now: float) -> tuple[list[Any], Sequence[R | BaseException]]:
            # a batch run again after a lost connection writes the same items again
            if not taken:
                with self._lock:
                    taken.append((self._items, self._callbacks))
                    self._items, self._callbacks, self._queued = [], [], False
            items, callbacks = taken[0]
            return callbacks, self._write_many(conn, items, now)

        def failed_all(error: BaseException) -> None:
            # the whole write failed: with the items it took, or before taking them (then
            # those gathered are its own: no other write was queued meanwhile)
            if taken:
                callbacks = taken[0][1]
            else:
                with self._lock:
                    callbacks = self._callbacks
                    self._items, self._callbacks, self._queued = [], [], False
            for _, failed_one in callbacks:
                failed_one(error)

        with self._lock:
            self._queued = True
            self._items.append(item)
            self._callbacks.append((after, failed))
        if self._writer.submit(write, after=_report, failed=failed_all, single=True):
            return True
        with self._lock:  # not queued: nobody will take them
            self._items, self._callbacks, self._queued = [], [], False
        return False


def _report(outcome: tuple[list[Any], Sequence[Any]]) -> None:
    callbacks, results = outcome
    for (after, failed), result in zip(callbacks, results, strict=True):
        if isinstance(result, BaseException):
            failed(result)
        else:
            after(result)
