"""The UI's files on disk: the app in ``monitor/ui/`` and browser libraries in its node_modules.

URL paths map to files only through fixed roots, each path component checked, and the
resolved file must stay inside its root, so no request can read anything else.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["UI_DIR", "VENDOR", "content_type", "static_file"]

UI_DIR = Path(__file__).resolve().parent / "ui"

#: ``/vendor/<name>/...`` -> a folder inside ui/node_modules (installed from package-lock.json)
VENDOR = {"mermaid": Path("mermaid") / "dist"}

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
_COMPONENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
#: the app's own files; package.json and the lock file are not the browser's business
_APP_SUFFIXES = frozenset({".html", ".js", ".mjs", ".css", ".svg", ".png", ".ico"})


def content_type(path: Path) -> str | None:
    """The Content-Type served for a file, or None for a kind the UI never serves."""
    return _TYPES.get(path.suffix.lower())


def static_file(url_path: str, ui_dir: Path = UI_DIR) -> Path | None:
    """The file behind a URL path, or None when there is none (or it is not servable).

    ``/`` is ``index.html``; ``/<file>`` is a file at the top of the UI folder;
    ``/vendor/<lib>/<path>`` is a file of a library listed in :data:`VENDOR`.
    """
    parts = [p for p in url_path.split("/") if p]
    if not parts:
        parts = ["index.html"]
    if not all(_COMPONENT.match(p) and ".." not in p for p in parts):
        return None
    if parts[0] == "vendor" and len(parts) >= 3 and parts[1] in VENDOR:
        root = (ui_dir / "node_modules" / VENDOR[parts[1]]).resolve()
        candidate = root.joinpath(*parts[2:])
    elif len(parts) == 1 and Path(parts[0]).suffix.lower() in _APP_SUFFIXES:
        root = ui_dir.resolve()
        candidate = root / parts[0]
    else:
        return None
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root) or not resolved.is_file():
        return None
    if content_type(resolved) is None:
        return None
    return resolved
