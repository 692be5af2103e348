"""One runtime process with a primary machine: what ``statemachine CONFIG`` runs.

It is wired as every runtime process is (service/_wiring.py: store, event socket publisher,
monitor, transport, child processes, runtime, control socket, signals); what is its own is
the one machine it runs, the ready pipe a parent runtime may wait on, and the exit code:
0 when the machine stops, 1 when it crashed, 130 / 143 after SIGINT / SIGTERM.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
from collections.abc import Mapping
from typing import Any

from statemachine_engine.config import MachineSpec
from statemachine_engine.service._wiring import (
    MonitorHook,
    Wired,
    Wiring,
    drain_outbox,
    refuse_taken_names,
    run_wired,
)

log = logging.getLogger("statemachine_engine.service")


class ProcessOptions:
    """What ``statemachine CONFIG`` runs: the machine, where its state and sockets go.

    ``ready_fd`` is written to once the machine can receive events; ``parent_fd`` is a
    pipe the parent holds open (end of file: it is gone); ``monitor`` is the monitor
    served from this process (``statemachine_engine.monitor.embedded_monitor``);
    ``durable``: durable although its YAML may not say so; ``fresh``: discard its
    checkpoint; ``sync``: the store's commit durability.
    """

    __slots__ = (
        "actions_dir",
        "context",
        "control_socket_prefix",
        "db",
        "durable",
        "event_socket_path",
        "fresh",
        "log_dir",
        "monitor",
        "name",
        "parent_fd",
        "ready_fd",
        "spec",
        "sync",
    )

    def __init__(
        self,
        spec: MachineSpec,
        name: str,
        db: str,
        context: Mapping[str, Any] | None = None,
        actions_dir: str | None = None,
        event_socket_path: str | None = None,
        control_socket_prefix: str | None = None,
        log_dir: str = "logs",
        ready_fd: int | None = None,
        parent_fd: int | None = None,
        monitor: MonitorHook | None = None,
        durable: bool = False,
        fresh: bool = False,
        sync: str = "normal",
    ) -> None:
        self.spec = spec
        self.name = name
        self.db = db
        self.context: Mapping[str, Any] = {} if context is None else context
        self.actions_dir = actions_dir
        self.event_socket_path = event_socket_path
        self.control_socket_prefix = control_socket_prefix
        self.log_dir = log_dir
        self.ready_fd = ready_fd
        self.parent_fd = parent_fd
        self.monitor = monitor
        self.durable = durable
        self.fresh = fresh
        self.sync = sync


def run_machine_process(options: ProcessOptions) -> int:
    """Run until the machine stops or a signal arrives; returns the exit code.

    A failure to start (a port or socket in use, a store that cannot be opened) raises
    that one StateMachineError, not the nursery's exception group around it.
    """
    wiring = Wiring(
        db=options.db,
        name=options.name,
        primary=options.name,
        actions_dir=options.actions_dir,
        event_socket_path=options.event_socket_path,
        control_socket_prefix=options.control_socket_prefix,
        monitor=options.monitor,
        log_dir=options.log_dir,
        parent_fd=options.parent_fd,
        sync=options.sync,
    )

    async def main(wired: Wired) -> int:
        await refuse_taken_names(wired, [options.name])
        ref = await wired.runtime.spawn(
            options.spec,
            name=options.name,
            context=options.context,
            fresh=options.fresh,
            durable=True if options.durable else None,
        )
        if options.ready_fd is not None:
            # ready means registered: the parent reads the child's row (its pid, its
            # endpoint) as soon as it is told
            await wired.store.flush()
            _signal_ready(options.ready_fd)
        _settle()
        status = await ref.wait_stopped()
        await drain_outbox(wired.runtime)
        return 1 if status == "crashed" else 0

    try:
        return run_wired(wiring, main, report=log.log)
    finally:
        gc.unfreeze()  # run in-process (tests, embedding): the caller's objects are its own


def _settle() -> None:
    """Once the machine runs: free what the start left behind (a parsed and checked YAML
    file, the argument parser), and move the survivors -- modules, classes, the spec: they
    live as long as the process -- out of the collector's sight, so that its passes over a
    long-running machine only look at what the machine allocates."""
    gc.collect()
    gc.freeze()
    # hand the heap's free pages back to the system (glibc; ctypes is loaded by trio); with
    # another C library they stay reserved
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


def _signal_ready(fd: int) -> None:
    try:
        os.write(fd, b"ready\n")
    except OSError as exc:
        log.debug("parent's ready pipe is gone: %s", exc)
    finally:
        os.close(fd)
