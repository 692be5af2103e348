"""The published package's module path for the monitor; the code lives in
:mod:`statemachine_engine.monitor`."""

from statemachine_engine.monitor import MonitorHub, serve_monitor, serve_websocket

__all__ = ["MonitorHub", "serve_monitor", "serve_websocket"]
