"""``statemachine-diagrams`` (alias ``statemachine-fsm``): write a machine's diagrams.

For each CONFIG, writes ``<output-dir>/<config file stem>/``: ``main.mermaid``, one
``<GROUP>.mermaid`` per state group, ``metadata.json`` and ``<stem>.md``. Exit 0 when every
config was drawn, 1 when one could not be read or loaded (each problem is printed; run
``statemachine-validate`` for the full check).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from statemachine_engine.config import load_config_text
from statemachine_engine.errors import ConfigError
from statemachine_engine.tools import generate_diagrams

DEFAULT_OUTPUT_DIR = "docs/fsm-diagrams"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statemachine-diagrams",
        description="Write Mermaid state diagrams, metadata.json and a markdown page for "
        "machine configurations.",
    )
    parser.add_argument(
        "configs",
        nargs="+",
        metavar="CONFIG",
        help="machine YAML files; a trailing FILE.md names the markdown page (one CONFIG only)",
    )
    parser.add_argument(
        "--output-dir",
        default=DEFAULT_OUTPUT_DIR,
        metavar="DIR",
        help=f"where the per-config folders go (default {DEFAULT_OUTPUT_DIR})",
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--new-format-only", action="store_true", help="skip the markdown page")
    only.add_argument("--old-format-only", action="store_true", help="write the markdown page only")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configs = [c for c in args.configs if not c.endswith(".md")]
    pages = [c for c in args.configs if c.endswith(".md")]
    if not configs:
        parser.error("name at least one CONFIG file")
    if len(pages) > 1 or (pages and len(configs) > 1):
        parser.error("a markdown FILE.md can only follow a single CONFIG")
    failed = 0
    for config in configs:
        path = Path(config)
        try:
            text = path.read_text(encoding="utf-8")
            # Custom action types are not checked: drawing needs no actions folder.
            spec = load_config_text(text, file=config, config_type=path.stem, known_actions=None)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"statemachine-diagrams: {config}: cannot read: {reason}", file=sys.stderr)
            failed += 1
            continue
        except ConfigError as exc:
            for issue in exc.errors or exc.issues:
                print(f"statemachine-diagrams: {issue}", file=sys.stderr)
            print(
                f"statemachine-diagrams: {config}: not drawn; run statemachine-validate {config}",
                file=sys.stderr,
            )
            failed += 1
            continue
        files = generate_diagrams(spec)
        page = files.pop(f"{spec.config_type}.md")
        if args.old_format_only:
            files = {}
        folder = Path(args.output_dir) / spec.config_type
        written: list[Path] = []
        if not args.new_format_only:
            if pages:
                written.append(Path(pages[0]))
            else:
                files[f"{spec.config_type}.md"] = page
        if files:
            written.append(folder)
        try:
            if pages and not args.new_format_only:
                Path(pages[0]).parent.mkdir(parents=True, exist_ok=True)
                Path(pages[0]).write_text(page, encoding="utf-8")
            if files:
                folder.mkdir(parents=True, exist_ok=True)
                for name, body in files.items():
                    (folder / name).write_text(body, encoding="utf-8")
        except OSError as exc:
            print(f"statemachine-diagrams: cannot write: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{config}: wrote {', '.join(str(w) for w in written)}")
    return 1 if failed else 0
