"""Where the UI's machine configs live, and their diagrams, generated from the YAML on request.

A config is known by its ``config_type``: the YAML file's stem, which is what machines report
in ``machine_registered`` and the registry. Configs come from an explicit list of files and/or
from scanning a project root for YAML files that look like machine configs. Diagrams are made
by the diagram tool from the loaded spec and cached until the file changes.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import trio

from statemachine_engine.config import load_config_text
from statemachine_engine.errors import ConfigError

__all__ = ["ConfigCatalog", "DiagramSet", "valid_name"]

logger = logging.getLogger(__name__)

#: a config type or diagram name as it may appear in a URL: no separators, no dot-files
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
#: a top-level key only machine configs have, at the start of a line
_MACHINE_KEYS = re.compile(r"^(initial_state|transitions|states)\s*:", re.MULTILINE)
_SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "build", "dist"})
_MAX_DEPTH = 6
_MAX_BYTES = 1024 * 1024
#: a lookup that misses rescans the project root at most this often (seconds)
_RESCAN_AFTER = 1.0


def valid_name(name: str) -> bool:
    """Whether ``name`` is safe as a config type or diagram name (no path traversal)."""
    return bool(_NAME.match(name)) and ".." not in name


@attrs.frozen
class DiagramSet:
    """The diagrams of one config, as the diagram tool makes them."""

    config_type: str
    path: Path
    #: diagram name (``main``, a group's composite name) -> Mermaid text
    diagrams: Mapping[str, str]
    metadata: Mapping[str, Any]


class ConfigCatalog:
    """Machine configs by config type, from ``configs`` and a scan of ``project_root``.

    Explicit files win over scanned ones with the same stem; among scanned files, the one
    nearest the root (then in path order) wins.
    """

    def __init__(
        self, *, project_root: str | Path | None = None, configs: Sequence[str | Path] = ()
    ) -> None:
        self.project_root = Path(project_root).resolve() if project_root is not None else None
        self._explicit = {Path(p).stem: Path(p).resolve() for p in configs}
        self._scanned: dict[str, Path] = {}
        self._scanned_at: float | None = None
        self._cache: dict[str, tuple[float, DiagramSet]] = {}

    async def configs(self, *, rescan: bool = True) -> dict[str, Path]:
        """Every known config type and its file, sorted by config type."""
        if rescan or self._scanned_at is None:
            await self._rescan()
        found = {**self._scanned, **self._explicit}
        return dict(sorted(found.items()))

    async def resolve(self, name: str) -> tuple[str, Path] | None:
        """The config for ``name``: an exact config type, else the longest config type that
        ``name`` starts with (``telephony-CA123`` -> ``telephony``, ``worker_007`` ->
        ``worker``), rescanning once when nothing matches."""
        if self._scanned_at is None:
            await self._rescan()
        hit = self._match(name)
        if hit is None and await self._rescan(throttle=True):
            hit = self._match(name)
        return hit

    def _match(self, name: str) -> tuple[str, Path] | None:
        found = {**self._scanned, **self._explicit}
        if name in found:
            return name, found[name]
        prefixes = [t for t in found if name.startswith(t) and name[len(t)] in "_-."]
        if not prefixes:
            return None
        best = max(prefixes, key=len)
        return best, found[best]

    async def diagrams(self, config_type: str, path: Path) -> DiagramSet:
        """The diagrams of one config (cached until the file changes).

        Raises :class:`ConfigError` when the file cannot be read or is not a valid config.
        """
        try:
            mtime = (await trio.Path(path).stat()).st_mtime
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file: {exc}", file=str(path)) from None
        cached = self._cache.get(config_type)
        if cached is not None and cached[0] == mtime and cached[1].path == path:
            return cached[1]
        result = await trio.to_thread.run_sync(_generate, config_type, path)
        self._cache[config_type] = (mtime, result)
        return result

    async def _rescan(self, *, throttle: bool = False) -> bool:
        if self.project_root is None:
            self._scanned_at = 0.0
            return False
        now = trio.current_time()
        if throttle and self._scanned_at is not None and now - self._scanned_at < _RESCAN_AFTER:
            return False
        self._scanned = await trio.to_thread.run_sync(scan_project, self.project_root)
        self._scanned_at = now
        return True


def scan_project(root: Path) -> dict[str, Path]:
    """Machine configs under ``root``: YAML files with a top-level ``initial_state``,
    ``states`` or ``transitions`` key (hidden, dependency and build folders skipped)."""
    found: dict[str, Path] = {}
    for path in sorted(_yaml_files(root), key=lambda p: (len(p.parts), str(p))):
        if path.stem in found:
            logger.debug("%s shadowed by %s (same config type)", path, found[path.stem])
            continue
        try:
            if path.stat().st_size > _MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _MACHINE_KEYS.search(text):
            found[path.stem] = path
    return found


def _yaml_files(root: Path) -> Iterable[Path]:
    base_depth = len(root.parts)
    for folder, dirs, files in os.walk(root):
        depth = len(Path(folder).parts) - base_depth
        dirs[:] = [
            d for d in dirs if depth < _MAX_DEPTH and not d.startswith(".") and d not in _SKIP_DIRS
        ]
        for name in files:
            if name.endswith((".yaml", ".yml")) and not name.startswith("."):
                yield Path(folder) / name


def _generate(config_type: str, path: Path) -> DiagramSet:
    from statemachine_engine.tools import generate_diagrams

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read configuration file: {exc}", file=str(path)) from None
    # Custom action types are not checked here: the monitor draws configs whose actions
    # live in some other process's --actions-dir.
    spec = load_config_text(text, file=str(path), config_type=config_type, known_actions=None)
    files = generate_diagrams(spec)
    metadata = json.loads(files.get("metadata.json", "{}"))
    diagrams = {
        name.removesuffix(".mermaid"): body
        for name, body in files.items()
        if name.endswith(".mermaid")
    }
    return DiagramSet(config_type, path, diagrams, metadata)
