"""Finding action classes: the built-ins, and ``*_action.py`` files in an ``--actions-dir``.

A custom action file that cannot be loaded (it fails to import, or does not define its
class) does not stop a start, as in the published package: it is reported as a warning, and
only a machine that uses its type is refused, at start, with the file's error.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from statemachine_engine.actions._base import BaseAction
from statemachine_engine.actions.builtin import ALIASES, BUILTIN_ACTIONS
from statemachine_engine.errors import ActionLoadError, ConfigIssue

if TYPE_CHECKING:
    from statemachine_engine.config import MachineSpec

log = logging.getLogger(__name__)


def type_name(file: Path) -> str:
    """``greet_action.py`` -> ``greet`` (every ``_action`` is removed, as upstream does)."""
    return file.stem.replace("_action", "")


def class_name(action_type: str) -> str:
    """``start_fsm`` -> ``StartFsmAction``."""
    return "".join(part.capitalize() for part in action_type.split("_")) + "Action"


def discover(actions_dir: str | Path | None) -> dict[str, Path]:
    """Custom action files under ``actions_dir`` (subfolders included), by type name."""
    if actions_dir is None:
        return {}
    root = Path(actions_dir).expanduser()
    if not root.is_dir():
        raise ActionLoadError(
            [
                ConfigIssue(
                    f"actions directory not found or not a directory: {root}", path="--actions-dir"
                )
            ]
        )
    found: dict[str, Path] = {}
    for file in sorted(root.rglob("*_action.py")):
        if "__pycache__" not in file.parts:
            found[type_name(file)] = file.resolve()
    return found


def available_action_types(actions_dir: str | Path | None = None) -> list[str]:
    """Every action type a config may use: built-ins, aliases and custom ones."""
    return sorted({*BUILTIN_ACTIONS, *ALIASES, *discover(actions_dir)})


_registries: dict[Path | None, ActionRegistry] = {}


def get_registry(actions_dir: str | Path | None = None) -> ActionRegistry:
    """The registry for ``actions_dir``; discovery and imports happen once per directory."""
    key = Path(actions_dir).expanduser().resolve() if actions_dir is not None else None
    registry = _registries.get(key)
    if registry is None:
        registry = _registries[key] = ActionRegistry(key)
    return registry


class ActionRegistry:
    """Maps action types to classes. Custom actions override built-ins of the same type."""

    def __init__(
        self,
        actions_dir: Path | None = None,
        *,
        custom: dict[str, Path] | None = None,
        extra: dict[str, type[BaseAction]] | None = None,
    ) -> None:
        self.actions_dir = actions_dir
        self.custom = discover(actions_dir) if custom is None else custom
        self.extra = dict(extra or {})
        self._classes: dict[str, type[BaseAction]] = dict(self.extra)
        #: custom types whose file cannot be loaded, with why
        self._broken: dict[str, ActionLoadError] = {}
        self._warned: set[str] = set()

    def with_classes(self, extra: dict[str, type[BaseAction]]) -> ActionRegistry:
        """A registry that also knows ``extra`` classes by type (they win over files)."""
        merged = {**self.extra, **extra}
        registry = ActionRegistry(self.actions_dir, custom=self.custom, extra=merged)
        registry._classes = {**self._classes, **merged}
        registry._broken = dict(self._broken)
        registry._warned = set(self._warned)
        return registry

    def types(self) -> list[str]:
        return sorted({*BUILTIN_ACTIONS, *ALIASES, *self.custom, *self.extra})

    def __contains__(self, action_type: str) -> bool:
        """Whether a config may use ``action_type``.

        A custom type whose file cannot be loaded raises that file's ActionLoadError: it is
        a known type, and a machine that uses it must not start (see :meth:`require`).
        """
        known = (
            action_type in self.extra
            or action_type in self.custom
            or action_type in BUILTIN_ACTIONS
            or action_type in ALIASES
        )
        if known and action_type not in self.extra:
            self.require([action_type])
        return known

    def load_all(self, *uses: MachineSpec) -> list[ConfigIssue]:
        """Import every custom action now, so that no file fails mid-run.

        A file that cannot be loaded is logged once as a warning and its issue returned;
        raises its ActionLoadError only when one of the machines ``uses`` needs its type.
        """
        for action_type in self.custom:
            try:
                self.get(action_type)
            except ActionLoadError:
                continue
        for spec in uses:
            self.require(action_types(spec))
        issues = []
        for action_type, exc in self._broken.items():
            issue = exc.issues[0]
            issues.append(issue.replace(severity="warning"))
            if action_type not in self._warned:
                self._warned.add(action_type)
                log.warning(
                    "%s: warning: %s; a machine that uses type %r will not start",
                    issue.location(),
                    issue.message,
                    action_type,
                )
        return issues

    def require(self, types: Iterable[str]) -> None:
        """Raise the ActionLoadError of the first of ``types`` whose file cannot be loaded."""
        for action_type in types:
            target = action_type if action_type in self.custom else ALIASES.get(action_type)
            if target in self.custom and action_type not in self.extra:
                self.get(target)

    def get(self, action_type: str) -> type[BaseAction]:
        cls = self._classes.get(action_type)
        if cls is None:
            broken = self._broken.get(action_type)
            if broken is not None:
                # a new exception each time: re-raising one instance grows its traceback
                raise ActionLoadError(broken.issues) from broken.__cause__
            try:
                cls = self._classes[action_type] = self._load(action_type)
            except ActionLoadError as exc:
                if action_type in self.custom:
                    self._broken[action_type] = exc
                raise
        return cls

    def _load(self, action_type: str) -> type[BaseAction]:
        if action_type in self.custom:
            return self._load_file(action_type, self.custom[action_type])
        target = ALIASES.get(action_type, action_type)
        if target in self.custom:
            return self._load_file(target, self.custom[target])
        module_name = BUILTIN_ACTIONS.get(target)
        if module_name is None:
            raise ActionLoadError(
                [
                    ConfigIssue(
                        f"unknown action type {action_type!r}; known: {', '.join(self.types())}",
                        path="type",
                    )
                ]
            )
        module = importlib.import_module(module_name)
        cls: type[BaseAction] = getattr(module, class_name(target))
        return cls

    def _load_file(self, action_type: str, file: Path) -> type[BaseAction]:
        module_name = f"statemachine_engine_custom_actions.{action_type}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ActionLoadError([ConfigIssue("cannot import this file", file=str(file))])
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(module_name, None)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            # the message names the file, the line and the exception; the traceback through
            # the import machinery only helps with --debug
            log.debug("importing %s failed", file, exc_info=exc)
            raise ActionLoadError(
                [
                    ConfigIssue(
                        f"custom action {action_type!r} failed to import: "
                        f"{type(exc).__name__}: {exc}",
                        file=str(file),
                        line=_line_in(exc, file),
                    )
                ]
            ) from exc
        expected = class_name(action_type)
        cls = getattr(module, expected, None)
        if not (isinstance(cls, type) and issubclass(cls, BaseAction)):
            found = sorted(
                n for n, v in vars(module).items() if isinstance(v, type) and n.endswith("Action")
            )
            what = "is not a BaseAction subclass" if cls is not None else "is not defined"
            raise ActionLoadError(
                [
                    ConfigIssue(
                        f"class {expected} {what} in this file (classes found: "
                        f"{', '.join(found) or 'none'}); a file named {file.name} must define "
                        f"class {expected}(BaseAction)",
                        file=str(file),
                    )
                ]
            )
        return cls


def action_types(spec: MachineSpec) -> set[str]:
    """Every action type ``spec`` uses, in states and on transitions."""
    used = {a.type for actions in spec.actions.values() for a in actions}
    used |= {a.type for t in spec.transitions for a in t.actions}
    return used


def _line_in(exc: BaseException, file: Path) -> int | None:
    """The line of ``file`` where ``exc`` was raised (the innermost one), if it was there."""
    if isinstance(exc, SyntaxError) and exc.filename == str(file):
        return exc.lineno
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
    return lines[-1] if lines else None
