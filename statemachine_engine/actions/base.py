"""Compatibility: the published package's ``statemachine_engine.actions.base`` module.

Custom actions written for statemachine-engine 1.0.x import their base class from here
(``from statemachine_engine.actions.base import BaseAction``); it is the very class
:class:`statemachine_engine.actions.BaseAction`, so both imports load the same actions.
"""

from statemachine_engine.actions._base import BaseAction

__all__ = ["BaseAction"]
