"""``statemachine-validate`` and ``statemachine-lint``: one checker, two ways to report.

validate: a report for people; exit 0 clean (warnings allowed), 1 on errors, 2 when
``--strict`` and there are warnings. lint: one line per finding or ``--format json``; exit 1
on any error (with ``--strict``, on any warning too). Wrong flags exit 2 (argparse).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from statemachine_engine import _strict_json
from statemachine_engine.tools import (
    LintResult,
    expand_codes,
    lint_json,
    lint_paths,
    lint_report,
    validate_report,
)


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="machine YAML files")
    parser.add_argument(
        "--actions-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of custom *_action.py files (may be repeated)",
    )
    parser.add_argument(
        "--initial-context",
        metavar="JSON",
        help="the JSON object the machines start with; its keys count as known placeholders",
    )
    parser.add_argument(
        "--select", metavar="CODES", help="only these codes or families (e.g. S,R001)"
    )
    parser.add_argument("--ignore", metavar="CODES", help="leave out these codes or families")
    parser.add_argument("--strict", action="store_true", help="treat warnings as failures")
    parser.add_argument("--no-color", action="store_true", help="plain text output")
    return parser


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> LintResult:
    for folder in args.actions_dir:
        if not Path(folder).is_dir():
            parser.error(f"--actions-dir {folder}: not a folder")
    keys: list[str] = []
    if args.initial_context is not None:
        try:
            context = _strict_json.loads(args.initial_context)
        except ValueError as exc:
            parser.error(f"--initial-context is not valid JSON: {exc}")
        if not isinstance(context, dict):
            parser.error('--initial-context must be a JSON object, e.g. \'{"job_id": "j1"}\'')
        keys = [str(k) for k in context]
    try:
        select = expand_codes(args.select)
        ignore = expand_codes(args.ignore) or frozenset()
    except ValueError as exc:
        parser.error(f"--select/--ignore: {exc}")
    return lint_paths(
        args.configs,
        actions_dirs=args.actions_dir,
        initial_context=keys,
        select=select,
        ignore=ignore,
    )


def _color(args: argparse.Namespace) -> bool:
    return not args.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def main_validate(argv: Sequence[str] | None = None) -> int:
    parser = _parser(
        "statemachine-validate", "Check machine configurations and explain what to fix."
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="show errors only")
    args = parser.parse_args(argv)
    result = _run(parser, args)
    sys.stdout.write(validate_report(result, quiet=args.quiet, color=_color(args)))
    if result.count("error"):
        return 1
    if args.strict and result.count("warning"):
        return 2
    return 0


def main_lint(argv: Sequence[str] | None = None) -> int:
    parser = _parser("statemachine-lint", "Check machine configurations; report findings by code.")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    result = _run(parser, args)
    if args.format == "json":
        sys.stdout.write(lint_json(result))
    else:
        sys.stdout.write(lint_report(result, strict=args.strict, color=_color(args)))
    failed = result.count("error") + (result.count("warning") if args.strict else 0)
    return 1 if failed else 0
