"""Ctrl-C before a command's own signal handling is in place.

A long-running command handles SIGINT itself once its trio run watches for it (a clean stop,
exit 130). Before that -- while it imports the runtime, checks the configuration, opens the
store: the first few hundred milliseconds -- Python turns Ctrl-C into ``KeyboardInterrupt``,
which would end the command with a traceback of whatever line it was on.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")


def exit_130_on_ctrl_c(prog: str) -> Callable[[Callable[P, int]], Callable[P, int]]:
    """Make a command's ``main`` answer Ctrl-C with one line and exit code 130."""

    def wrap(main: Callable[P, int]) -> Callable[P, int]:
        @functools.wraps(main)
        def run(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130

        return run

    return wrap
