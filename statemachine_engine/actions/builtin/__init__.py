"""Built-in actions. Each lives in ``<type>_action.py`` and defines ``<Type>Action``."""

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

#: other names for the same actions (the published package's ``activity_log`` is ``log``)
ALIASES: dict[str, str] = {"activity_log": "log"}
