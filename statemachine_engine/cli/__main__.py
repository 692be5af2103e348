"""``python -m statemachine_engine.cli CONFIG ...`` is the ``statemachine`` command, as the
published package's README and its simple_worker example run it."""

import sys

from statemachine_engine.cli._statemachine import main

sys.exit(main())
