"""The pytest plugin module: ``pytest_plugins = ["statemachine_engine.testing.pytest_plugin"]``."""

from statemachine_engine.testing._plugin import machine_events, sm_runtime

__all__ = ["machine_events", "sm_runtime"]
