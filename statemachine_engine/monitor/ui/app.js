// The monitor page: loads what already happened from the store (machines past and present,
// the activity log), then applies the live event stream on top, and wires the views
// (machines, instance, jobs, audit), the search box and the operator actions.

import * as api from "./api.js";
import { ActivityLog, historyLine } from "./activity.js";
import { AuditView } from "./audit.js";
import { MachinesView } from "./board.js";
import { Connection, websocketUrl } from "./connection.js";
import { clockTime } from "./dom.js";
import { InstanceView } from "./instance.js";
import { JobsView } from "./jobs.js";
import { MachineStore, fromStore } from "./machines.js";
import { SearchBox } from "./search.js";
import { adoptFragmentToken } from "./token.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["machines", "instance", "jobs", "audit"];
const ACTIVITY_PAGE = 100;
/** how a machine_terminated event's reason reads as a status */
const END_STATUS = { final: "finished", crashed: "failed", stopped: "stopped", killed: "stopped" };

class MonitorApp {
  constructor() {
    this.store = new MachineStore();
    this.log = new ActivityLog($("log"), $("log-filter"));
    this.board = new MachinesView(this.store, (name) => this.openInstance(name));
    this.instance = new InstanceView(this.store, () => this.show("machines"));
    this.jobs = new JobsView();
    this.audit = new AuditView();
    this.search = new SearchBox($("search"), $("search-results"), {
      machine: (name) => this.openInstance(name),
      job: (jobId) => this.openJob(jobId),
    });
    this.events = 0;
    this.database = false;
    this.ready = false; // history loaded: live events are applied, not buffered
    this.buffer = [];
    this.snapshots = 0;
    this.activityCursor = null;
    this.connection = new Connection(websocketUrl, {
      onMessage: (message) => (this.ready ? this.handle(message) : this.buffer.push(message)),
      onStatus: (state, detail) => this.status(state, detail),
    });
    $("nav").addEventListener("click", (event) => {
      const tab = event.target.closest("[data-view]");
      if (tab) this.show(tab.dataset.view);
    });
    $("log-clear").addEventListener("click", () => this.log.clear());
    $("log-more").addEventListener("click", () => this.loadActivity());
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest?.("input, textarea, select, [contenteditable], dialog");
      if ((event.key === "k" || event.key === "K") && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        if (this.current === "machines") this.board.toggleView();
      }
    });
    this.current = "machines";
  }

  async start() {
    this.connection.start();
    this.database = await api.hasDatabase();
    document.body.dataset.database = String(this.database);
    if (this.database) {
      await Promise.all([this.loadMachines(), this.loadActivity()]);
    } else {
      const message =
        "This monitor reads no database: only live events are shown " +
        "(start it with --db to see history, jobs and the audit log).";
      this.log.older([{ machine: "", level: "info", message }]);
    }
    this.ready = true;
    document.body.dataset.history = "loaded";
    this.board.refresh(true);
    for (const message of this.buffer.splice(0)) this.handle(message);
  }

  status(state, detail) {
    $("connection").dataset.state = state;
    $("connection-text").textContent = detail;
  }

  show(view) {
    if (!VIEWS.includes(view)) return;
    this.current = view;
    for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
    for (const tab of $("nav").querySelectorAll("[data-view]")) {
      const active = tab.dataset.view === view || (view === "instance" && tab.dataset.view === "machines");
      tab.classList.toggle("active", active);
      tab.setAttribute("aria-current", active ? "page" : "false");
    }
    document.body.dataset.view = view;
    if (view === "jobs") this.jobs.open();
    if (view === "audit") this.audit.open();
  }

  openInstance(name) {
    this.show("instance");
    this.instance.open(name);
  }

  openJob(jobId) {
    this.show("jobs");
    this.jobs.search(jobId);
  }

  // -- history from the store ---------------------------------------------------------------

  /** Every machine the store knows, with its status; a monitor without the store says so. */
  async loadMachines() {
    try {
      const reply = await api.machines({ status: "all" });
      for (const row of Array.isArray(reply?.machines) ? reply.machines : []) {
        if (row && typeof row.name === "string") this.store.upsert(row.name, fromStore(row));
      }
    } catch (error) {
      this.log.add({ machine: "", level: "warning", message: `Machine history unavailable: ${error.message}` });
    }
  }

  /** The next (older) page of the activity log. */
  async loadActivity() {
    const more = $("log-more");
    more.disabled = true;
    try {
      const reply = await api.activity({ limit: ACTIVITY_PAGE, before: this.activityCursor });
      const items = Array.isArray(reply?.items) ? reply.items : [];
      this.log.older(items.map((item) => historyLine(item)));
      this.activityCursor = reply?.next_before ?? null;
    } catch (error) {
      this.activityCursor = null;
      this.log.older([{ machine: "", level: "warning", message: `Activity history unavailable: ${error.message}` }]);
    }
    more.hidden = !this.activityCursor;
    more.disabled = false;
  }

  /** After a reconnect: the activity the page missed while it was cut off. */
  async catchUp(since) {
    try {
      const reply = await api.activity({ limit: ACTIVITY_PAGE });
      const items = Array.isArray(reply?.items) ? reply.items : [];
      this.log.catchUp(items.map((item) => historyLine(item)), since);
    } catch (error) {
      this.log.add({ machine: "", level: "warning", message: `Missed activity unavailable: ${error.message}` });
    }
  }

  // -- live events --------------------------------------------------------------------------

  handle(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "initial") {
      this.snapshot(message);
      return;
    }
    const name = typeof message.machine_name === "string" ? message.machine_name : "";
    const payload = message.payload && typeof message.payload === "object" ? message.payload : {};
    const time = typeof message.timestamp === "number" ? message.timestamp : Date.now() / 1000;
    this.events += 1;
    $("stat-events").textContent = String(this.events);
    $("stat-updated").textContent = clockTime(time);
    switch (message.type) {
      case "machine_registered":
        this.update(name, {
          current_state: payload.current_state,
          config_type: payload.config_type,
          template: payload.template,
          status: "running",
          last_activity: time,
          state_since: time,
        });
        this.log.add({ time, machine: name, level: "success", message: `Registered in state ${text(payload.current_state ?? "?")}` });
        break;
      case "state_change":
        this.stateChange(name, payload, time);
        break;
      case "machine_terminated":
        this.terminated(name, payload, time);
        break;
      case "activity_log":
        // bash output lines carry their stream (stdout / stderr)
        this.log.add({
          time,
          machine: name,
          level: payload.level ?? "info",
          message: text(payload.message),
          tag: payload.stream ? text(payload.stream) : "",
        });
        break;
      case "error": {
        const detail = text(payload.error_message ?? payload.message ?? payload.error);
        const where = [
          payload.action ? `${text(payload.action)} failed` : "",
          payload.state ? `in ${text(payload.state)}` : "",
        ].filter(Boolean).join(" ");
        const job = payload.job_id ? ` (job ${text(payload.job_id)})` : "";
        this.log.add({ time, machine: name, level: "error", message: `${where ? `${where}: ` : ""}${detail}${job}` });
        break;
      }
      case "job_started":
        this.update(name, { job_id: payload.job_id });
        this.log.add({ time, machine: name, level: "info", message: `Job ${text(payload.job_id)} started` });
        break;
      case "job_completed":
        this.jobEnded(name, payload, time);
        break;
      default:
        this.log.add({ time, machine: name, level: "info", message: `${text(message.type)} ${text(payload.message ?? "")}`.trim() });
    }
    if (name) this.instance.live(name, message.type, payload, time);
  }

  /** A live snapshot (on connect and reconnect): running machines; a reconnect also asks the
   *  store what changed while the page was cut off. */
  snapshot(message) {
    const since = this.log.newest;
    this.log.reconnected();
    const machines = Array.isArray(message.machines) ? message.machines : [];
    this.store.mergeSnapshot(machines);
    const time = typeof message.timestamp === "number" ? message.timestamp : undefined;
    $("stat-updated").textContent = clockTime(time);
    const note = message.error ? ` (registry unavailable: ${text(message.error)})` : "";
    const count = `${machines.length} running machine${machines.length === 1 ? "" : "s"}`;
    const level = message.error ? "warning" : "info";
    this.log.add({ time, machine: "", level, message: `Live: ${count}${note}` });
    for (const machine of machines) this.log.remember(String(machine.machine_name));
    this.snapshots += 1;
    if (this.snapshots > 1 && this.database) {
      this.loadMachines().then(() => this.board.refresh(true));
      this.catchUp(since);
    } else {
      this.board.refresh(true);
    }
  }

  /** Apply fields to a machine and tell the board what changed. */
  update(name, fields, moved = false) {
    const before = this.store.machines.get(name)?.status;
    const isNew = this.store.upsert(name, fields);
    const statusChanged = before !== undefined && before !== this.store.machines.get(name).status;
    this.board.changed(name, { isNew, statusChanged, moved });
  }

  stateChange(name, payload, time) {
    const transition = {
      from_state: payload.from_state,
      to_state: payload.to_state,
      event_trigger: payload.event_trigger,
      timestamp: time,
    };
    const fields = {
      current_state: payload.to_state,
      config_type: payload.config_type,
      last_activity: time,
      state_since: time,
      last_transition: transition,
      last_event: payload.event_trigger,
    };
    this.update(name, fields, true);
    const event = payload.event_trigger ? ` (${text(payload.event_trigger)})` : "";
    this.log.add({ time, machine: name, level: "info", message: `${text(payload.from_state)} -> ${text(payload.to_state)}${event}` });
  }

  /** A machine ended: a final state is a normal end; the store has the last word. */
  terminated(name, payload, time) {
    const status = END_STATUS[payload.reason] ?? "finished";
    const state = payload.final_state ?? this.store.machines.get(name)?.current_state;
    this.update(name, { status, current_state: state, last_activity: time, config_type: payload.config_type });
    const line = this.log.add({ time, machine: name, ...endLine(status, state) });
    if (!this.database) return;
    api.findMachine(name).then((row) => {
      if (!row || !row.status || row.status === status) return;
      this.update(name, fromStore(row));
      if (line) describeLine(line, endLine(row.status, row.state ?? state));
    }, () => {});
  }

  /** A job ended: shown completed only when the store says so. */
  jobEnded(name, payload, time) {
    const jobId = text(payload.job_id);
    const line = this.log.add({ time, machine: name, ...jobLine(jobId, payload.status) });
    if (!this.database || !jobId) return;
    api.findJob(jobId).then((job) => {
      if (job && line && job.status !== payload.status) describeLine(line, jobLine(jobId, job.status, job.error_message));
    }, () => {});
  }
}

function endLine(status, state) {
  const where = state ? ` in state ${state}` : "";
  if (status === "finished") return { level: "success", message: `Finished${where}` };
  if (status === "failed") return { level: "error", message: `Failed${where}` };
  return { level: "warning", message: `Stopped${where}` };
}

function jobLine(jobId, status, error) {
  if (status === "completed") return { level: "success", message: `Job ${jobId} completed` };
  if (status === "failed") return { level: "error", message: `Job ${jobId} failed${error ? `: ${error}` : ""}` };
  return { level: "info", message: `Job ${jobId} ended (${status ?? "status unknown"})` };
}

/** Rewrite a log line's level and text once the store has answered. */
function describeLine(node, { level, message }) {
  node.className = `log-entry level-${level}`;
  node.dataset.level = level;
  node.querySelector(".log-level").textContent = level;
  node.querySelector(".log-message").textContent = message;
}

function text(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Opened with the monitor's read token (?token=...): the server has answered with a cookie that
// the page's requests and its WebSocket now carry, so the token leaves the address bar.
if (new URLSearchParams(location.search).has("token")) {
  const clean = new URL(location.href);
  clean.searchParams.delete("token");
  history.replaceState(null, "", clean.pathname + clean.search + clean.hash);
}
adoptFragmentToken();

const app = new MonitorApp();
window.smMonitor = app; // for debugging from the console
app.start();
