"""``python -m statemachine_engine`` is the ``statemachine`` command."""

import sys

from statemachine_engine.cli._statemachine import main

sys.exit(main())
