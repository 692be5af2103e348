"""What a wheel carries of the UI: every browser file the monitor serves must match the
package data of pyproject.toml (a wheel built by ``make dist`` then works without npm)."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

from statemachine_engine.monitor._static import UI_DIR

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "statemachine_engine"
MERMAID = UI_DIR / "node_modules" / "mermaid" / "dist"
IMPORT = re.compile(rb"""(?:from|import)\s*\(?\s*["'](\./[^"']+\.mjs)["']""")


def package_data() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns: list[str] = config["tool"]["setuptools"]["package-data"]["statemachine_engine"]
    return patterns


def shipped(path: Path) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return any(fnmatch.fnmatchcase(relative, pattern) for pattern in package_data())


def test_the_ui_files_are_package_data() -> None:
    app = [p for p in UI_DIR.iterdir() if p.suffix in {".html", ".js", ".css"}]
    assert app
    assert all(shipped(path) for path in app), [p.name for p in app if not shipped(p)]


def test_every_module_of_the_mermaid_build_the_ui_loads_is_package_data() -> None:
    entry = UI_DIR / "diagram.js"
    assert '"/vendor/mermaid/mermaid.esm.min.mjs"' in entry.read_text(encoding="utf-8")
    seen: set[Path] = set()
    todo = [MERMAID / "mermaid.esm.min.mjs"]
    while todo:  # follow the static and dynamic imports of the bundle
        module = todo.pop().resolve()
        if module in seen:
            continue
        seen.add(module)
        for match in IMPORT.finditer(module.read_bytes()):
            todo.append(module.parent / match.group(1).decode())
    assert len(seen) > 50  # the bundle is split in chunks: the walk found them
    missing = sorted(str(p.relative_to(MERMAID)) for p in seen if not shipped(p))
    assert missing == []
    assert shipped(MERMAID.parent / "LICENSE")


def test_no_python_file_of_node_modules_becomes_a_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["packages"]["find"]["namespaces"] is False


def test_the_packaging_configuration_is_the_one_setuptools_builds_without_warnings() -> None:
    # verified with setuptools 84: a table license is deprecated (a warning box), and
    # include-package-data made it warn once per UI data folder ("Package would be
    # ignored"); the package-data globs above are what the wheel carries either way
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["license"] == "MIT"
    assert config["build-system"]["requires"] == ["setuptools>=77"]
    assert config["tool"]["setuptools"]["include-package-data"] is False
