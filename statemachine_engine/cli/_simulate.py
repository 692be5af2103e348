"""``statemachine simulate``: run machines in virtual time against scripted events."""

from __future__ import annotations

import argparse
import sys

from statemachine_engine.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="statemachine simulate",
        description=(
            "Run one or several machines in virtual time, feed them scripted events and print "
            "every transition. The same input always gives the same output."
        ),
    )
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="machine YAML files")
    parser.add_argument(
        "--events",
        metavar="EVENTS.yaml",
        help="a YAML list of {at: seconds, target: machine, type: event, payload: {...}}",
    )
    parser.add_argument(
        "--until",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="stop after this much virtual time (default 60); sooner if every machine stops",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--actions-dir", metavar="DIR", help="folder of custom *_action.py files")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from statemachine_engine.testing import simulate

    try:
        result = simulate(
            args.configs,
            args.events if args.events else (),
            until=args.until,
            actions_dir=args.actions_dir,
        )
    except ConfigError as exc:
        print(f"statemachine simulate: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(result.to_jsonl() if args.format == "json" else result.to_text())
    return 0
