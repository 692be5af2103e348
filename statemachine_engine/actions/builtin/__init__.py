"""Built-in actions. Each lives in ``<type>_action.py`` and defines ``<Type>Action``.

The classes are also importable from this package, as in the published package
(``from statemachine_engine.actions.builtin import BashAction``); they are imported on first
use, so that loading one built-in does not import them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from statemachine_engine._lazy import lazy_exports

#: action type -> module defining its class
BUILTIN_ACTIONS: dict[str, str] = {
    name: f"statemachine_engine.actions.builtin.{name}_action"
    for name in (
        "log",
        "set_context",
        "add_to_list",
        "pop_from_list",
        "sleep",
        "send_event",
        "start_fsm",
        "bash",
        "check_database_queue",
        "claim_job",
        "get_pending_jobs",
        "wait_for_jobs",
        "complete_job",
        "fail_job",
        "clear_events",
        "check_machine_state",
    )
}

#: ``activity_log`` is ``log`` as the published package's LogAction behaves (a row in
#: ``machine_events``, ``continue`` afterwards): its class lives beside ``log``'s
BUILTIN_ACTIONS["activity_log"] = BUILTIN_ACTIONS["log"]

#: other names for the same actions
ALIASES: dict[str, str] = {}

_CLASSES: dict[str, str] = {
    "".join(part.capitalize() for part in name.split("_")) + "Action": module
    for name, module in BUILTIN_ACTIONS.items()
}

__all__ = [
    "ALIASES",
    "BUILTIN_ACTIONS",
    "ActivityLogAction",
    "AddToListAction",
    "BashAction",
    "CheckDatabaseQueueAction",
    "CheckMachineStateAction",
    "ClaimJobAction",
    "ClearEventsAction",
    "CompleteJobAction",
    "FailJobAction",
    "GetPendingJobsAction",
    "LogAction",
    "PopFromListAction",
    "SendEventAction",
    "SetContextAction",
    "SleepAction",
    "StartFsmAction",
    "WaitForJobsAction",
]

if TYPE_CHECKING:
    from statemachine_engine.actions.builtin.add_to_list_action import AddToListAction
    from statemachine_engine.actions.builtin.bash_action import BashAction
    from statemachine_engine.actions.builtin.check_database_queue_action import (
        CheckDatabaseQueueAction,
    )
    from statemachine_engine.actions.builtin.check_machine_state_action import (
        CheckMachineStateAction,
    )
    from statemachine_engine.actions.builtin.claim_job_action import ClaimJobAction
    from statemachine_engine.actions.builtin.clear_events_action import ClearEventsAction
    from statemachine_engine.actions.builtin.complete_job_action import CompleteJobAction
    from statemachine_engine.actions.builtin.fail_job_action import FailJobAction
    from statemachine_engine.actions.builtin.get_pending_jobs_action import GetPendingJobsAction
    from statemachine_engine.actions.builtin.log_action import ActivityLogAction, LogAction
    from statemachine_engine.actions.builtin.pop_from_list_action import PopFromListAction
    from statemachine_engine.actions.builtin.send_event_action import SendEventAction
    from statemachine_engine.actions.builtin.set_context_action import SetContextAction
    from statemachine_engine.actions.builtin.sleep_action import SleepAction
    from statemachine_engine.actions.builtin.start_fsm_action import StartFsmAction
    from statemachine_engine.actions.builtin.wait_for_jobs_action import WaitForJobsAction


__getattr__, __dir__ = lazy_exports(__name__, _CLASSES)
