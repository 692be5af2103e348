"""The start cache: a checked configuration kept on disk, so that an unchanged one is not
parsed and checked again at every ``statemachine CONFIG``.

An entry is found by what identifies a start: the configuration's path (as given and
resolved), the working folder (``start_fsm`` paths are resolved against it), the actions
folder, the ``--initial-context`` keys and ``--durable``, the Python and package versions,
and a signature of the checker's source files (name, size, modification time). It is
used only while every file the check read -- the configuration, the configurations it
starts, every ``*_action.py`` of the actions folder -- still has the content it had then.

The cache lives in ``$XDG_CACHE_HOME/statemachine-engine`` (``~/.cache/...`` by default).
It is an optimisation only: a folder that cannot be created or written is skipped, an entry
that cannot be read is ignored and written again, and nothing here raises.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import io
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from statemachine_engine.config._models import MachineSpec
from statemachine_engine.errors import ConfigIssue

log = logging.getLogger(__name__)

#: bumped when the entry's layout changes
FORMAT = 2
#: entries kept; the least recently used beyond these are removed when one is written
MAX_ENTRIES = 256
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
#: what the check and the spec are made by (with the package's top-level modules)
_CHECKER_PACKAGES = ("actions", "config", "fsm", "tools")


class CachedStart(NamedTuple):
    """What a start needs from a checked configuration: the spec to run and the checker's
    warnings, as the lines to log. (A named tuple, not an attrs class: every start defines
    this class, and attrs compiles a class's methods when it defines it.)"""

    spec: MachineSpec
    warnings: tuple[str, ...] = ()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/statemachine-engine``, else ``~/.cache/statemachine-engine``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "statemachine-engine"


class StartCache:
    """Checked configurations on disk, one file per start identity."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def key(
        self,
        config: str | Path,
        *,
        actions_dir: str | Path | None = None,
        initial_context: Collection[str] = (),
        durable: bool = False,
    ) -> str:
        """The identity of a start (never the files' content: that is checked on load)."""
        from statemachine_engine import __version__

        parts = [
            f"format {FORMAT}",
            f"python {sys.implementation.cache_tag} {sys.version}",
            f"package {__version__} {_source_signature()}",
            f"config {config!s} {os.path.abspath(config)}",
            f"cwd {os.getcwd()}",
            f"actions {_resolved(actions_dir)}",
            f"context {sorted(initial_context)!r}",
            f"durable {durable}",
        ]
        # paths are bytes to the system: one that is not UTF-8 is kept as it came
        text = "\n".join(parts).encode("utf-8", "surrogateescape")
        return hashlib.sha256(text).hexdigest()[:32]

    @staticmethod
    def digest(path: str | Path) -> str | None:
        """The digest of a file's content as an entry records it (None: unreadable)."""
        return _digest(str(path))

    def load(self, key: str) -> CachedStart | None:
        """The entry for ``key`` if every file it depends on is unchanged, else None."""
        file = self.directory / f"{key}.pickle"
        try:
            # an entry is unpickled: only from a folder and a file no other user can write
            if not (_private(self.directory) and _private(file)):
                return None
            data = file.read_bytes()
        except OSError:
            return None
        try:
            entry = pickle.loads(data)
            if entry["format"] != FORMAT:
                return None
            for path, digest in entry["files"]:
                if _digest(path) != digest:
                    return None
            if entry["actions"] != _action_files(entry["actions_dir"]):
                return None
            value = entry["value"]
            if not isinstance(value, CachedStart):
                raise TypeError(f"a {type(value).__name__}, not a CachedStart")
        except Exception as exc:  # a corrupt or foreign entry: it is written again after the check
            log.debug("ignoring the start cache entry %s: %s", file, exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(file)  # recently used: the last to be pruned
        return value

    def store(
        self,
        key: str,
        value: CachedStart,
        *,
        files: Iterable[str | Path],
        actions_dir: str | Path | None = None,
        before: Mapping[str, str | None] | None = None,
    ) -> None:
        """Keep ``value`` for ``key``, valid while ``files`` and the ``*_action.py`` files of
        ``actions_dir`` keep their content. ``before``: digests (:meth:`digest`) of some of
        the files taken before the check; if one changed since, the check may have read
        either version and nothing is kept. Silently does nothing when it cannot write."""
        try:
            digests = [(str(p), _digest(str(p))) for p in files]
            if any(digest is None for _, digest in digests):
                return  # a file vanished while it was checked: nothing stable to keep
            now = dict(digests)
            if any(now.get(path, _digest(path)) != d for path, d in (before or {}).items()):
                return  # edited while it was checked
            entry = {
                "format": FORMAT,
                "files": digests,
                "actions_dir": _resolved(actions_dir),
                "actions": _action_files(_resolved(actions_dir)),
                "value": value,
            }
            self._write(f"{key}.pickle", _dumps(entry))
        except (OSError, pickle.PicklingError, TypeError) as exc:
            log.debug("start cache not written in %s: %s", self.directory, exc)

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _private(self.directory):
            log.debug("start cache %s is not a private folder of this user", self.directory)
            return
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.directory / name)  # atomic: a concurrent start reads either
        except BaseException:
            os.unlink(tmp)
            raise
        self._prune()

    def _prune(self) -> None:
        """Keep the :data:`MAX_ENTRIES` most recently used entries (a start that used one
        touched it): configurations started once from a temporary folder, as test suites
        do, must not pile up."""
        entries = []
        for entry in os.scandir(self.directory):
            if entry.name.endswith(".pickle"):
                with contextlib.suppress(OSError):
                    entries.append((entry.stat().st_mtime_ns, entry.path))
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(reverse=True)
        for _, path in entries[MAX_ENTRIES:]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _dumps(entry: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    # ConfigIssue refuses attribute assignment, which pickle's default restore needs
    table = copyreg.dispatch_table.copy()
    table[ConfigIssue] = _reduce_issue
    pickler.dispatch_table = table
    pickler.dump(entry)
    return buffer.getvalue()


def _reduce_issue(issue: ConfigIssue) -> tuple[type[ConfigIssue], tuple[object, ...]]:
    return ConfigIssue, tuple(getattr(issue, name) for name in ConfigIssue._FIELDS)


def _private(path: Path) -> bool:
    """Owned by this user, writable by no one else."""
    st = path.stat()
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _digest(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _resolved(actions_dir: str | Path | None) -> str | None:
    if actions_dir is None:
        return None
    return str(Path(actions_dir).expanduser().resolve())


def _action_files(actions_dir: str | None) -> list[tuple[str, str | None]]:
    """Every ``*_action.py`` under ``actions_dir`` with its digest: a file added, removed or
    changed there changes the check (the action loader finds them the same way)."""
    if actions_dir is None:
        return []
    files = sorted(Path(actions_dir).rglob("*_action.py"))
    return [(str(f), _digest(str(f))) for f in files if "__pycache__" not in f.parts]


def _source_signature() -> str:
    """The checker's and the models' source files by name, size and modification time: a
    reinstall or an edit of a rule or a model makes every entry stale. (The runtime's own
    modules are left out: they do not change what the check says or the spec it builds.)"""
    digest = hashlib.sha256()
    todo = [_PACKAGE_ROOT, *(_PACKAGE_ROOT / name for name in _CHECKER_PACKAGES)]
    while todo:
        folder = todo.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".py") and entry.is_file():
                st = entry.stat()
                digest.update(f"{entry.path} {st.st_size} {st.st_mtime_ns}\n".encode())
            elif folder != _PACKAGE_ROOT and entry.is_dir() and entry.name != "__pycache__":
                todo.append(Path(entry.path))
    return digest.hexdigest()
