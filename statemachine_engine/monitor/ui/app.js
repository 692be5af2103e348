// The monitor page: wires the event stream to the tabs, the diagram, the Kanban board and
// the activity log.

import * as api from "./api.js";
import { ActivityLog } from "./activity.js";
import { Connection, websocketUrl } from "./connection.js";
import { DiagramView } from "./diagram.js";
import { clockTime } from "./dom.js";
import { KanbanView } from "./kanban.js";
import { MachineStore } from "./machines.js";
import { TabBar } from "./tabs.js";

const $ = (id) => document.getElementById(id);

class MonitorApp {
  constructor() {
    this.store = new MachineStore();
    this.log = new ActivityLog($("log"), $("log-filter"));
    this.tabs = new TabBar($("tabs"), (key) => this.select(key));
    this.diagram = new DiagramView($("diagram"), $("breadcrumb"));
    this.kanban = new KanbanView($("kanban"));
    this.groups = new Map();
    this.selected = null;
    this.view = null; // "diagram" | "kanban" for the selected tab
    this.viewChoice = new Map(); // tab -> view the user picked
    this.lastChanged = new Map(); // tab -> machine that changed last (shown in the diagram)
    this.events = 0;
    this.connection = new Connection(websocketUrl, {
      onMessage: (message) => this.handle(message),
      onStatus: (state, detail) => this.status(state, detail),
    });
    $("view-toggle").addEventListener("click", () => this.toggleView());
    $("log-clear").addEventListener("click", () => this.log.clear());
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
      if ((event.key === "k" || event.key === "K") && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        this.toggleView();
      }
    });
  }

  start() {
    this.connection.start();
  }

  status(state, detail) {
    $("connection").dataset.state = state;
    $("connection-text").textContent = detail;
  }

  // -- events ---------------------------------------------------------------------------

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
        this.registered(name, payload, time);
        break;
      case "state_change":
        this.stateChange(name, payload, time);
        break;
      case "machine_terminated":
        this.terminated(name, time);
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
        const where = [payload.action ? `${text(payload.action)} failed` : "", payload.state ? `in ${text(payload.state)}` : ""].filter(Boolean).join(" ");
        const job = payload.job_id ? ` (job ${text(payload.job_id)})` : "";
        this.log.add({ time, machine: name, level: "error", message: `${where ? `${where}: ` : ""}${detail}${job}` });
        break;
      }
      case "job_started":
      case "job_completed": {
        const verb = message.type === "job_started" ? "started" : "completed";
        const level = message.type === "job_started" ? "info" : "success";
        this.log.add({ time, machine: name, level, message: `Job ${text(payload.job_id)} ${verb}` });
        break;
      }
      default:
        this.log.add({ time, machine: name, level: "info", message: `${text(message.type)} ${text(payload.message ?? "")}`.trim() });
    }
  }

  snapshot(message) {
    const machines = Array.isArray(message.machines) ? message.machines : [];
    this.store.replaceAll(machines);
    const time = typeof message.timestamp === "number" ? message.timestamp : undefined;
    $("stat-updated").textContent = clockTime(time);
    const note = message.error ? ` (registry unavailable: ${text(message.error)})` : "";
    this.log.add({ time, machine: "", level: message.error ? "warning" : "info", message: `Snapshot: ${machines.length} machines${note}` });
    for (const machine of machines) this.log.remember(String(machine.machine_name));
    this.refreshTabs(true);
  }

  registered(name, payload, time) {
    this.store.upsert(name, {
      current_state: payload.current_state,
      config_type: payload.config_type,
      template: payload.template,
      last_activity: time,
    });
    this.log.add({ time, machine: name, level: "success", message: `Registered in state ${text(payload.current_state ?? "?")}` });
    this.refreshTabs(false);
    if (this.groupOfMachine(name) === this.selected) this.updateView(name);
  }

  stateChange(name, payload, time) {
    const transition = {
      from_state: payload.from_state,
      to_state: payload.to_state,
      event_trigger: payload.event_trigger,
      timestamp: time,
    };
    const isNew = this.store.upsert(name, {
      current_state: payload.to_state,
      config_type: payload.config_type,
      last_activity: time,
      last_transition: transition,
    });
    const event = payload.event_trigger ? ` (${text(payload.event_trigger)})` : "";
    this.log.add({ time, machine: name, level: "info", message: `${text(payload.from_state)} -> ${text(payload.to_state)}${event}` });
    if (isNew) this.refreshTabs(false);
    const group = this.groupOfMachine(name);
    this.lastChanged.set(group, name);
    if (group === this.selected) this.updateView(name);
  }

  terminated(name, time) {
    const group = this.groupOfMachine(name);
    this.store.remove(name);
    this.log.add({ time, machine: name, level: "warning", message: "Terminated" });
    if (group === this.selected && this.kanban.key === group) this.kanban.remove(name);
    this.refreshTabs(false);
  }

  // -- tabs and views -------------------------------------------------------------------

  groupOfMachine(name) {
    const record = this.store.machines.get(name);
    return record ? this.store.groupKey(record) : null;
  }

  /** Redraw the tabs; select the first when nothing (or a vanished tab) is selected. */
  refreshTabs(rebuildView) {
    this.groups = this.store.groups();
    $("stat-machines").textContent = String(this.store.machines.size);
    $("empty").hidden = this.groups.size > 0;
    let selected = this.selected;
    if (!selected || !this.groups.has(selected)) selected = this.groups.keys().next().value ?? null;
    this.tabs.render(this.groups, selected);
    if (selected !== this.selected || rebuildView) this.select(selected);
    for (const group of this.groups.values()) this.learnTemplate(group.configType);
  }

  /** Fetch a config's metadata once; a template config folds its instances into one tab. */
  async learnTemplate(configType) {
    if (!configType || this.store.templates.has(configType)) return;
    const meta = await api.metadata(configType);
    if (meta && meta.template === true && !this.store.templates.has(configType)) {
      this.store.templates.add(configType);
      this.refreshTabs(true);
    }
  }

  async select(key) {
    this.selected = key;
    this.tabs.render(this.groups, key);
    const group = key ? this.groups.get(key) : null;
    if (!group) {
      this.view = null;
      $("diagram").hidden = true;
      $("kanban").hidden = true;
      $("view-toggle").hidden = true;
      $("view-title").textContent = "";
      return;
    }
    const meta = await api.metadata(group.configType);
    if (this.selected !== key) return;
    if (meta && meta.template === true) group.templated = true;
    this.view = this.viewChoice.get(key) ?? (group.templated ? "kanban" : "diagram");
    this.render();
  }

  toggleView() {
    if (!this.selected) return;
    this.viewChoice.set(this.selected, this.view === "kanban" ? "diagram" : "kanban");
    this.select(this.selected);
  }

  async render() {
    const group = this.groups.get(this.selected);
    if (!group) return;
    const kanban = this.view === "kanban";
    $("diagram").hidden = kanban;
    $("kanban").hidden = !kanban;
    $("breadcrumb").hidden = kanban;
    const toggle = $("view-toggle");
    toggle.hidden = false;
    toggle.textContent = kanban ? "Diagram view" : "Kanban view";
    const count = group.members.length;
    $("view-title").textContent = `${group.configType}${count > 1 ? ` - ${count} instances` : ""}`;
    if (kanban) {
      const meta = await api.metadata(group.configType);
      if (this.view === "kanban" && this.groups.get(this.selected) === group) this.kanban.show(group, meta);
    } else {
      const focus = this.focusMachine(group);
      await this.diagram.show(group.configType, focus?.current_state ?? null, focus?.last_transition ?? null);
    }
  }

  /** The machine a tab's diagram follows: the one that changed last. */
  focusMachine(group) {
    const last = this.store.machines.get(this.lastChanged.get(group.key));
    return last ?? group.members[0] ?? null;
  }

  /** Apply one machine's change to the visible view without redrawing it. */
  updateView(name) {
    const record = this.store.machines.get(name);
    if (!record) return;
    if (this.view === "kanban") {
      if (this.kanban.key === this.selected) this.kanban.place(record);
    } else if (this.view === "diagram") {
      const group = this.groups.get(this.selected);
      if (group) this.diagram.show(group.configType, record.current_state, record.last_transition);
    }
  }
}

function text(value) {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// Opened with the monitor's token (?token=...): the server has answered with a cookie that
// the page's requests and its WebSocket now carry, so the token leaves the address bar (and
// what is copied from it).
if (new URLSearchParams(location.search).has("token")) {
  const clean = new URL(location.href);
  clean.searchParams.delete("token");
  history.replaceState(null, "", clean.pathname + clean.search + clean.hash);
}

const app = new MonitorApp();
window.smMonitor = app; // for debugging from the console
app.start();
