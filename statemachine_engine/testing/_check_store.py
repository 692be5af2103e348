"""check_store: the store contract as one test, for every backend (SQLite, PostgreSQL, yours).

``await check_store(open_store_factory)`` runs every check (``_check_store_basic``, then
``_check_store_queue``), each on a new, empty database, and raises AssertionError (noted
with the check's name) at the first broken promise.
``open_store_factory()`` is called once per check: it makes a new empty database and returns
a function that opens a store on it; calling that function again opens the same database
(a restart, or a second process). With ``persistent=False`` (SQLite ``:memory:``, where each
open is a new database) the checks that reopen or share a database are left out.

The checks keep to what the Store protocol promises and to the reads every store provides
(:class:`CheckedStore`); they assume nothing of the clock the store was given, and each
waits at most a bounded time on trio's clock (``trio.fail_after``).
"""

from __future__ import annotations

import trio

from statemachine_engine.testing._check_store_basic import BASIC_CHECKS, REOPEN_CHECKS
from statemachine_engine.testing._check_store_queue import QUEUE_CHECKS, SHARED_CHECKS
from statemachine_engine.testing._checked_store import WAIT, Check, StoreFactory


async def check_store(open_store_factory: StoreFactory, *, persistent: bool = True) -> None:
    """Run the store contract against the stores ``open_store_factory`` opens.

    Raises AssertionError (or the store's own error), noted with the failing check's name.
    """
    checks: list[Check] = [*BASIC_CHECKS, *QUEUE_CHECKS]
    if persistent:
        checks += [*REOPEN_CHECKS, *SHARED_CHECKS]
    for check in checks:
        try:
            with trio.fail_after(WAIT * 3):
                await check(open_store_factory())
        except BaseException as exc:
            failure = _single(exc)
            failure.add_note(f"check_store: {check.__name__} failed")
            if failure is exc:
                raise
            raise failure from exc


def _single(exc: BaseException) -> BaseException:
    """The one failure inside the groups of nurseries it went through (the store's own
    nursery wraps an assertion made inside ``async with``), so the caller sees it plainly."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
