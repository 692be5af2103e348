"""The project's one error hierarchy.

    StateMachineError
    ├── ConfigError (ValueError)   a YAML file, flag or manifest is wrong; carries every issue
    │   └── ActionLoadError        an --actions-dir file failed to import or define its class
    ├── ActorStopped               a message was sent to, or awaited from, a stopped machine
    ├── MailboxFull                send_nowait found the machine's bounded mailbox full
    ├── TransportError (OSError)   a socket could not be reached, answered an error, timed out
    │   └── DeliveryError          the peer answered {"ok": false, ...}
    └── StoreError                 the database could not be opened, read or written
        ├── JobNotFound (LookupError)
        └── DuplicateJob

Every error carries structured fields next to a message a user can act on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

__all__ = [
    "ActionLoadError",
    "ActorStopped",
    "ConfigError",
    "ConfigIssue",
    "DeliveryError",
    "DuplicateJob",
    "JobNotFound",
    "MailboxFull",
    "StateMachineError",
    "StoreError",
    "TransportError",
    "leaf_errors",
    "sole_error",
]

_E = TypeVar("_E", bound=BaseException)


class StateMachineError(Exception):
    """Base of every error the project raises on purpose."""


class ConfigIssue:
    """One problem found in a configuration file (immutable).

    ``path`` is a YAML path such as ``$.transitions[3].to``; ``line`` and ``column`` are
    1-based, or ``None`` when the problem has no position (a missing top-level key).
    """

    # a plain class rather than attrs: errors.py is imported by the short command-line
    # tools, whose start-up time matters
    __slots__ = ("code", "column", "file", "line", "message", "path", "severity")
    _FIELDS = ("message", "path", "file", "line", "column", "severity", "code")

    message: str
    path: str
    file: str | None
    line: int | None
    column: int | None
    severity: str  # "error" or "warning"
    code: str | None

    def __init__(
        self,
        message: str,
        path: str = "$",
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        severity: str = "error",
        code: str | None = None,
    ) -> None:
        for name, value in zip(
            self._FIELDS, (message, path, file, line, column, severity, code), strict=True
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ConfigIssue is immutable (cannot set {name!r})")

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConfigIssue):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS)
        return f"ConfigIssue({args})"

    def replace(self, **changes: object) -> ConfigIssue:
        values = {name: getattr(self, name) for name in self._FIELDS}
        values.update(changes)
        return ConfigIssue(**values)

    def location(self) -> str:
        parts = [self.file or "<config>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.location()}: {self.severity}{code}: {self.path}: {self.message}"


class ConfigError(StateMachineError, ValueError):
    """A configuration is invalid. ``issues`` holds every error found, not only the first."""

    def __init__(self, issues: Iterable[ConfigIssue] | str, *, file: str | None = None) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue(issues, file=file)]
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        self.file = file
        super().__init__(self._render())

    @property
    def errors(self) -> Sequence[ConfigIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def _render(self) -> str:
        errors = self.errors or self.issues
        if len(errors) == 1:
            return str(errors[0])
        head = f"{len(errors)} errors in {self.file or 'configuration'}:"
        return "\n".join([head, *(f"  {issue}" for issue in errors)])


class ActionLoadError(ConfigError):
    """A custom action file could not be imported, or does not define the expected class."""


class ActorStopped(StateMachineError):
    """The machine has stopped (final state, stop(), crash or runtime shutdown)."""

    def __init__(self, machine: str, reason: str = "stopped") -> None:
        self.machine = machine
        self.reason = reason
        super().__init__(f"machine {machine!r} is not running ({reason})")


class MailboxFull(StateMachineError):
    """``send_nowait`` found the machine's mailbox full; ``await send(...)`` waits instead."""

    def __init__(self, machine: str, capacity: int) -> None:
        self.machine = machine
        self.capacity = capacity
        super().__init__(f"mailbox of machine {machine!r} is full ({capacity} messages)")


class TransportError(StateMachineError, OSError):
    """A socket peer could not be reached, timed out, or broke the protocol."""

    def __init__(self, message: str, *, target: str | None = None, path: str | None = None):
        self.target = target
        self.path = path
        super().__init__(message)


class DeliveryError(TransportError):
    """The peer was reached but refused the message (it answered ``ok: false``)."""


class StoreError(StateMachineError):
    """The store could not be opened, read or written."""


class JobNotFound(StoreError, LookupError):
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"job {job_id!r} not found")


class DuplicateJob(StoreError):
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"a job with id {job_id!r} already exists")


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, however deeply grouped (``[exc]`` for a plain one)."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaf_errors(inner)]
    return [exc]


def sole_error(group: BaseExceptionGroup[BaseException], kind: type[_E]) -> _E:
    """The first ``kind`` error in ``group`` when the group holds nothing else: a failure of
    the project's own making, to report in one line. Otherwise ``group`` is raised again."""
    matched, rest = group.split(kind)
    if matched is None or rest is not None:
        raise group
    leaf = leaf_errors(matched)[0]
    assert isinstance(leaf, kind)
    return leaf
