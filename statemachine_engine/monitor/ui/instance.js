// The instance view: one machine's diagram with ITS state lit and the path it took (every
// transition of its loaded history), its facts, its timeline from the store (newest first,
// paged) with live lines on top, and the operator actions on it.

import * as actions from "./actions.js";
import * as api from "./api.js";
import { DiagramView } from "./diagram.js";
import { dateTime, el } from "./dom.js";
import { fromStore } from "./machines.js";

const $ = (id) => document.getElementById(id);
const PAGE = 100;

export class InstanceView {
  /**
   * @param {import("./machines.js").MachineStore} store
   * @param {() => void} back
   */
  constructor(store, back) {
    this.store = store;
    this.name = null;
    this.cursor = null;
    this.transitions = []; // loaded and live, newest first
    this.diagram = new DiagramView($("instance-diagram"), $("instance-breadcrumb"));
    $("instance-back").addEventListener("click", back);
    $("timeline-more").addEventListener("click", () => this.loadPage());
    $("instance-send").addEventListener("click", () => this.name && actions.sendEvent(this.name, this.knownEvents()));
    $("instance-stop").addEventListener("click", () => this.name && actions.stopMachine(this.name));
  }

  async open(name) {
    this.name = name;
    this.cursor = null;
    this.transitions = [];
    $("timeline").replaceChildren();
    $("view-instance").dataset.machine = name;
    $("instance-name").textContent = name;
    $("instance-note").textContent = "";
    $("timeline-more").hidden = true;
    this.facts();
    if (!(await api.hasDatabase())) {
      $("instance-note").textContent = "This monitor reads no database: the timeline shows live events only (start it with --db).";
      this.redraw();
      return;
    }
    let row = null;
    try {
      row = await api.findMachine(name);
    } catch (error) {
      $("instance-note").textContent = `Store unavailable: ${error.message}`;
    }
    if (this.name !== name) return;
    if (row) this.store.upsert(name, fromStore(row));
    else $("instance-note").textContent = "The database has no record of this machine: live events only.";
    this.facts();
    this.redraw();
    if (row) await this.loadPage();
  }

  record() {
    return this.store.machines.get(this.name) ?? null;
  }

  /** The header: status, state, job, times. */
  facts() {
    const record = this.record();
    const status = record?.status ?? "unknown";
    const badge = $("instance-status");
    badge.textContent = status;
    badge.dataset.status = status;
    const rows = [
      ["State", record?.current_state ?? "-"],
      ["Config", record?.config_type ?? "-"],
      ["Job", record?.job_id ?? "-"],
      ["Started", dateTime(record?.started_at)],
      ["In state since", dateTime(record?.state_since)],
    ];
    $("instance-facts").replaceChildren(
      ...rows.map(([term, value]) => el("div", {}, el("dt", { text: term }), el("dd", { text: value, data: { fact: term } }))),
    );
    $("instance-stop").disabled = status !== "running";
  }

  redraw() {
    const record = this.record();
    if (!record) return;
    this.diagram.setVisited(this.transitions);
    const caption = `Instance ${record.machine_name} - path taken in blue`;
    const config = record.config_type ?? record.machine_name;
    this.diagram.show(config, record.current_state, record.last_transition, caption);
  }

  /** The next (older) page of the timeline. */
  async loadPage() {
    const name = this.name;
    const more = $("timeline-more");
    more.disabled = true;
    try {
      const reply = await api.history(name, { limit: PAGE, before: this.cursor });
      if (this.name !== name) return;
      const items = Array.isArray(reply?.items) ? reply.items : [];
      for (const item of items) {
        $("timeline").append(timelineEntry(item));
        if (item.kind === "transition") this.transitions.push(item);
      }
      this.cursor = reply?.next_before ?? null;
      $("view-instance").dataset.timeline = String($("timeline").childElementCount);
      this.diagram.setVisited(this.transitions);
    } catch (error) {
      this.cursor = null;
      $("timeline").append(el("li", { className: "log-entry level-warning", text: `No history: ${error.message}` }));
    }
    more.hidden = !this.cursor;
    more.disabled = false;
  }

  /** A live event of some machine: shown when it is this one. */
  live(name, type, payload, time) {
    if (name !== this.name || $("view-instance").hidden) return;
    let item = null;
    if (type === "state_change") {
      item = { kind: "transition", at: time, from_state: payload.from_state, to_state: payload.to_state, event: payload.event_trigger };
      this.transitions.unshift(item);
    } else if (type === "error") {
      item = { kind: "error", at: time, state: payload.state, action: payload.action, message: payload.error_message ?? payload.message };
    } else if (type === "activity_log") {
      item = { kind: "activity", at: time, message: payload.message, level: payload.level };
    } else if (type === "machine_terminated" || type === "machine_registered" || type.startsWith("job_")) {
      item = { kind: "activity", at: time, message: type.replace("_", " ") + (payload.job_id ? ` ${payload.job_id}` : ""), level: "info" };
    }
    if (item) $("timeline").prepend(timelineEntry(item));
    this.facts();
    this.redraw();
  }

  /** Events this machine has taken, offered in the send-event form. */
  knownEvents() {
    return [...new Set(this.transitions.map((t) => t.event).filter(Boolean))].sort();
  }
}

function timelineEntry(item) {
  let level = item.level ?? "info";
  let message = String(item.message ?? "");
  if (item.kind === "transition") {
    message = `${item.from_state} -> ${item.to_state}${item.event ? ` (${item.event})` : ""}`;
  } else if (item.kind === "error") {
    level = "error";
    message = `${item.action ? `${item.action} failed` : "error"}${item.state ? ` in ${item.state}` : ""}: ${message}`;
  }
  return el(
    "li",
    { className: `log-entry level-${level}`, data: { kind: item.kind ?? "activity" } },
    el("time", { className: "log-time", text: dateTime(item.at) }),
    el("span", { className: "log-tag", text: item.kind ?? "" }),
    el("span", { className: "log-message", text: message }),
  );
}
