"""``statemachine run [MANIFEST]``: a whole project from one manifest (not yet available)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("statemachine run: not yet available in this version", file=sys.stderr)
    return 2
