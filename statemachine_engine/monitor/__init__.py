"""The live monitor: a hub of machine events, its WebSocket server and the browser UI."""

from statemachine_engine.monitor._catalog import ConfigCatalog, DiagramSet
from statemachine_engine.monitor._http import MonitorApp
from statemachine_engine.monitor._hub import (
    HubStats,
    MonitorHub,
    Outgoing,
    Registry,
    Subscriber,
    SubscriberClosed,
)
from statemachine_engine.monitor._main import add_common_arguments, main, run_monitor
from statemachine_engine.monitor._origin import origin_allowed
from statemachine_engine.monitor._serve import MonitorServer, embedded_monitor, serve_monitor
from statemachine_engine.monitor._store_feed import StoreFeed
from statemachine_engine.monitor._ws import EVENTS_PATH, WebSocketMonitor, serve_websocket

__all__ = [
    "EVENTS_PATH",
    "ConfigCatalog",
    "DiagramSet",
    "HubStats",
    "MonitorApp",
    "MonitorHub",
    "MonitorServer",
    "Outgoing",
    "Registry",
    "StoreFeed",
    "Subscriber",
    "SubscriberClosed",
    "WebSocketMonitor",
    "add_common_arguments",
    "embedded_monitor",
    "main",
    "origin_allowed",
    "run_monitor",
    "serve_monitor",
    "serve_websocket",
]
