"""The project manifest (``statemachine-project.yaml``): a whole system in one file.

```yaml
name: demo                        # names the project's control socket
db: data/demo.db                  # default: $STATEMACHINE_DB, else ./data/pipeline.db
                                  # (or postgresql://USER@HOST:PORT/DBNAME, shared by hosts)
sync: normal                      # commit durability: normal (survives kill -9) or full
actions_dir: actions              # default custom actions folder for every machine
event_socket_path: /tmp/statemachine-events.sock
control_socket_prefix: /tmp/statemachine-control
monitor: {host: 127.0.0.1, ui_port: 3001, websocket_port: 3002}   # or false
jobs:                             # queued at start unless a job with that id exists
  - {job_id: job_001, job_type: patient_records, data: {title: "..."}}
machines:
  - config: config/controller.yaml
    name: controller              # default: metadata.machine_name, else the file name
    instances: 1                  # more than 1: name_001, name_002, ...
    context: {}                   # initial context
    actions_dir: other_actions
    process: false                # true: run in its own process
    durable: false                # true: checkpointed and resumed, as 'durable: true' in its YAML
```

Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from statemachine_engine.config import format_path, load_yaml, position_of
from statemachine_engine.errors import ConfigError, ConfigIssue
from statemachine_engine.persistence import is_db_url, jobs_sql

DEFAULT_MANIFEST = "statemachine-project.yaml"
_TOP = (
    "name",
    "db",
    "actions_dir",
    "event_socket_path",
    "control_socket_prefix",
    "monitor",
    "jobs",
    "machines",
    "description",
    "sync",
)
_MACHINE = ("config", "name", "instances", "context", "actions_dir", "process", "durable")
_MONITOR = ("host", "ui_port", "websocket_port", "enabled")
_JOB = ("job_id", "job_type", "machine_type", "data", "priority")


@attrs.frozen
class MachineEntry:
    config: str
    name: str | None = None
    instances: int = 1
    context: Mapping[str, Any] = attrs.field(factory=dict)
    actions_dir: str | None = None
    process: bool = False
    durable: bool = False

    def names(self, default: str) -> list[str]:
        base = self.name or default
        if self.instances == 1:
            return [base]
        return [f"{base}_{i:03d}" for i in range(1, self.instances + 1)]


@attrs.frozen
class MonitorSettings:
    host: str = "127.0.0.1"
    ui_port: int = 3001
    websocket_port: int = 3002
    #: the token reads need (``statemachine run --token``; never in the manifest file: a
    #: secret does not belong in a file under version control)
    token: str | None = None


@attrs.frozen
class Manifest:
    file: str
    root: str
    name: str
    machines: tuple[MachineEntry, ...]
    db: str | None = None
    actions_dir: str | None = None
    event_socket_path: str | None = None
    control_socket_prefix: str | None = None
    monitor: MonitorSettings | None = attrs.field(factory=MonitorSettings)
    jobs: tuple[Mapping[str, Any], ...] = ()
    #: the store's commit durability: ``normal`` survives kill -9, ``full`` a power loss
    sync: str = "normal"
    #: durable machines discard their checkpoints and start afresh (``run --fresh``)
    fresh: bool = False


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest; raises ConfigError listing every problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"project manifest not found: {file} (create a {DEFAULT_MANIFEST}, or name one)",
            file=file,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read project manifest: {exc.strerror}", file=file) from None
    data, positions = load_yaml(text, file)
    issues: list[ConfigIssue] = []
    root = Path(path).resolve().parent

    def bad(where: tuple[str | int, ...], message: str, severity: str = "error") -> None:
        line, column = position_of(positions, where)
        issues.append(
            ConfigIssue(
                message,
                path=format_path(where),
                file=file,
                line=line,
                column=column,
                severity=severity,
            )
        )

    def resolve(value: Any, where: tuple[str | int, ...]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            bad(where, "expected a path")
            return None
        return str((root / value).resolve()) if not Path(value).is_absolute() else value

    def resolve_folder(value: Any, where: tuple[str | int, ...]) -> str | None:
        folder = resolve(value, where)
        if folder is not None and not Path(folder).is_dir():
            bad(where, f"actions folder not found: {folder}")
        return folder

    if not isinstance(data, Mapping):
        bad((), "a project manifest must be a YAML mapping with a 'machines' list")
        raise ConfigError(issues, file=file)
    for key in data:
        if key not in _TOP:
            bad((str(key),), f"unknown key {key!r}; valid: {', '.join(sorted(_TOP))}")

    machines: list[MachineEntry] = []
    raw_machines = data.get("machines")
    if not isinstance(raw_machines, list) or not raw_machines:
        bad(("machines",), "'machines' must be a non-empty list of {config, name, ...}")
        raw_machines = []
    for i, item in enumerate(raw_machines):
        where: tuple[str | int, ...] = ("machines", i)
        if not isinstance(item, Mapping):
            bad(where, "expected a mapping with at least 'config'")
            continue
        for key in item:
            if key not in _MACHINE:
                bad((*where, str(key)), f"unknown key {key!r}; valid: {', '.join(_MACHINE)}")
        config = resolve(item.get("config"), (*where, "config"))
        if config is None:
            bad(where, "a machine needs 'config': the path of its YAML file")
            continue
        if not Path(config).is_file():
            bad((*where, "config"), f"config file not found: {config}")
        instances = item.get("instances", 1)
        if not isinstance(instances, int) or isinstance(instances, bool) or instances < 1:
            bad((*where, "instances"), "'instances' must be a whole number >= 1")
            instances = 1
        context = item.get("context") or {}
        if not isinstance(context, Mapping):
            bad((*where, "context"), "'context' must be a mapping")
            context = {}
        process = item.get("process", False)
        if not isinstance(process, bool):
            bad((*where, "process"), "'process' must be true or false")
            process = False
        durable = item.get("durable", False)
        if not isinstance(durable, bool):
            bad((*where, "durable"), "'durable' must be true or false")
            durable = False
        name = item.get("name")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            bad((*where, "name"), "'name' must be a machine name without '/'")
            name = None
        machines.append(
            MachineEntry(
                config=config,
                name=name,
                instances=instances,
                context=dict(context),
                actions_dir=resolve_folder(item.get("actions_dir"), (*where, "actions_dir")),
                process=process,
                durable=durable,
            )
        )

    monitor: MonitorSettings | None = MonitorSettings()
    raw_monitor = data.get("monitor", {})
    if raw_monitor is False or (
        isinstance(raw_monitor, Mapping) and raw_monitor.get("enabled") is False
    ):
        monitor = None
    elif isinstance(raw_monitor, Mapping):
        for key in raw_monitor:
            if key not in _MONITOR:
                bad(("monitor", str(key)), f"unknown key {key!r}; valid: {', '.join(_MONITOR)}")
        values: dict[str, Any] = {}
        for key in ("ui_port", "websocket_port"):
            port = raw_monitor.get(key)
            if port is not None:
                if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 65536:
                    bad(("monitor", key), "a port must be a whole number from 0 to 65535")
                else:
                    values[key] = port
        host = raw_monitor.get("host")
        if host is not None:
            values["host"] = str(host)
        monitor = MonitorSettings(**values)
    elif raw_monitor is not None:
        bad(("monitor",), "'monitor' must be a mapping of host, ui_port, websocket_port, or false")

    jobs: list[Mapping[str, Any]] = []
    raw_jobs = data.get("jobs") or []
    if not isinstance(raw_jobs, list):
        bad(("jobs",), "'jobs' must be a list of {job_id, job_type, data}")
        raw_jobs = []
    for i, job in enumerate(raw_jobs):
        if not isinstance(job, Mapping) or not job.get("job_id") or not job.get("job_type"):
            bad(("jobs", i), "a job needs 'job_id' and 'job_type' (and optional data, priority)")
            continue
        for key in job:
            if key not in _JOB:
                bad(("jobs", i, str(key)), f"unknown key {key!r}; valid: {', '.join(_JOB)}")
        priority = job.get("priority", jobs_sql.DEFAULT_PRIORITY)
        low, high = jobs_sql.MIN_WHOLE, jobs_sql.MAX_WHOLE
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or not low <= priority <= high
        ):
            bad(
                ("jobs", i, "priority"),
                f"'priority' must be a whole number from {low} to {high} (1 = highest), "
                f"got {priority!r}",
            )
        if job.get("data") is not None and not isinstance(job["data"], Mapping):
            bad(("jobs", i, "data"), f"'data' must be a mapping, got {job['data']!r}")
        jobs.append(dict(job))

    sync = data.get("sync", "normal")
    if sync not in ("normal", "full"):
        bad(("sync",), f"'sync' must be normal or full, got {sync!r}")
        sync = "normal"
    actions_dir = resolve_folder(data.get("actions_dir"), ("actions_dir",))
    name = data.get("name") or Path(path).resolve().parent.name
    if issues and any(i.severity == "error" for i in issues):
        raise ConfigError(issues, file=file)
    return Manifest(
        file=file,
        root=str(root),
        name=str(name),
        machines=tuple(machines),
        db=_db_url_or(data.get("db"), lambda: resolve(data.get("db"), ("db",))),
        actions_dir=actions_dir,
        event_socket_path=data.get("event_socket_path"),
        control_socket_prefix=data.get("control_socket_prefix"),
        monitor=monitor,
        jobs=tuple(jobs),
        sync=str(sync),
    )


def _db_url_or(value: Any, resolve_path: Callable[[], str | None]) -> str | None:
    """``db:``: a postgresql:// URL as it is, else a path resolved against the project."""
    if isinstance(value, str) and is_db_url(value):
        return value
    return resolve_path()
