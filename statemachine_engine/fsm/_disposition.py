"""What an event does to a machine: fire, hold, drop or ignore -- pure rules, no trio.

The rules (docs/architecture.md, "Machine actors"):

* an event that fires a transition from the current state fires it, whether the machine is
  busy (entry actions running: they are cancelled first) or idle;
* an event that fires nothing while the machine is busy is **held**, in arrival order, and
  examined again once it is idle, in whatever state it is in by then;
* an event that fires nothing in an idle machine is **dropped** (counted as unhandled);
* an event an action returns is dispatched before anything in the mailbox
  (run-to-completion); if it fires nothing it is **ignored** (counted) and the action list
  goes on; events returned in a final state are ignored (the machine stops);
* the held queue is as long as the mailbox: beyond that its oldest event is dropped.

The actor keeps cancel scopes, deadlines and the mailbox, and asks these functions what to do.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Final, Generic, Literal, TypeVar, overload

from statemachine_engine.config import Transition
from statemachine_engine.fsm._table import Table

T = TypeVar("T")


class Disposition(enum.Enum):
    """What becomes of an event that fires no transition."""

    HOLD = "hold"  # busy: examined again once the machine is idle
    DROP = "drop"  # idle: counted as unhandled and dropped
    IGNORE = "ignore"  # returned by an action: counted, the action list goes on


HOLD: Final = Disposition.HOLD
DROP: Final = Disposition.DROP
IGNORE: Final = Disposition.IGNORE


@overload
def dispose(
    table: Table, state: str, event: str, *, busy: Literal[True]
) -> Transition | Literal[Disposition.HOLD]: ...
@overload
def dispose(
    table: Table, state: str, event: str, *, busy: Literal[False]
) -> Transition | Literal[Disposition.DROP]: ...
@overload
def dispose(
    table: Table, state: str, event: str, *, busy: bool
) -> Transition | Literal[Disposition.HOLD, Disposition.DROP]: ...


def dispose(
    table: Table, state: str, event: str, *, busy: bool
) -> Transition | Literal[Disposition.HOLD, Disposition.DROP]:
    """An event received from the mailbox in ``state``: the transition it fires, else HOLD
    while entry actions run (``busy``), else DROP."""
    found = table.select(state, event)
    if found is not None:
        return found
    return HOLD if busy else DROP


def dispose_returned(
    table: Table, state: str, event: str
) -> Transition | Literal[Disposition.IGNORE]:
    """An event an entry action of ``state`` returned: the transition it fires (ahead of the
    mailbox), else IGNORE. In a final state every returned event is ignored."""
    if state in table.final:
        return IGNORE
    found = table.select(state, event)
    return IGNORE if found is None else found


class HeldQueue(Generic[T]):
    """Events that fired nothing while the machine was busy, oldest first, at most
    ``capacity`` of them: holding one more drops (and returns) the oldest."""

    __slots__ = ("_items", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[T] = deque()

    def hold(self, item: T) -> T | None:
        """Append ``item``; returns the oldest item dropped to make room, else None."""
        items = self._items
        dropped = items.popleft() if len(items) >= self.capacity else None
        items.append(item)
        return dropped

    def hold_first(self, item: T) -> T | None:
        """Put ``item`` ahead of the others (the ``start`` event); returns a dropped one."""
        items = self._items
        dropped = items.popleft() if len(items) >= self.capacity else None
        items.appendleft(item)
        return dropped

    def take(self) -> T:
        """Remove and return the oldest held item (IndexError when there is none)."""
        return self._items.popleft()

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)
