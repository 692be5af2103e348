"""``python -m statemachine_engine.monitor``: the event hub and WebSocket server alone."""

import sys

from statemachine_engine.monitor._main import main

sys.exit(main())
