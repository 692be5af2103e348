"""``python -m statemachine_engine.monitoring.websocket_server``: the published package's way
to start the WebSocket monitor; the same program as ``python -m statemachine_engine.monitor``."""

from __future__ import annotations

import sys

from statemachine_engine.monitor import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
