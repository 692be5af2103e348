// The Kanban board: one column per state group, its states stacked inside, one card per
// instance showing its job, time in state and last event. Cards move when their machine
// changes state; a finished or failed one stays (marked) unless the status filter hides it.
// Clicking a card opens its instance view.

import { stateGroups } from "./api.js";
import { clear, duration, el } from "./dom.js";

/** Time in state as a card shows it: under a minute, then whole minutes, hours, days. */
function roughDuration(seconds) {
  return seconds < 60 ? "<1m" : duration(seconds).split(" ")[0];
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

const OTHER = "Other states";

export class KanbanView {
  /**
   * @param {HTMLElement} container
   * @param {(name: string) => void} onOpen  a card was clicked
   */
  constructor(container, onOpen) {
    this.container = container;
    container.addEventListener("click", (event) => {
      const card = event.target.closest(".kanban-card[data-machine]");
      if (card) onOpen(card.dataset.machine);
    });
    // time in state, for every card at once (one timer; a minute is the finest step shown,
    // so most ticks change nothing)
    setInterval(() => this.tick(), 15000);
    this.board = null;
    this.key = null; // the tab the board shows
    /** state -> {section, cards, count} */
    this.states = new Map();
    /** machine name -> card */
    this.cards = new Map();
    this.other = null;
  }

  /**
   * Build the board for a tab.
   * @param {{key: string, members: object[]}} group
   * @param {object|null} meta  the config's diagram metadata
   */
  show(group, meta) {
    clear(this.container);
    this.states.clear();
    this.cards.clear();
    this.other = null;
    this.key = group.key;
    this.board = el("div", { className: "kanban-board", data: { tab: group.key } });
    this.container.append(this.board);
    let columns = stateGroups(meta);
    if (columns.length === 0) {
      // No groups in the config: one column per state, in the order the config lists them.
      const states = declaredStates(meta);
      for (const member of group.members) {
        if (member.current_state && !states.includes(member.current_state)) {
          states.push(member.current_state);
        }
      }
      columns = states.map((state) => ({ name: state, title: state, states: [state] }));
    }
    for (const column of columns) this.addColumn(column.name, column.title, column.states);
    for (const member of group.members) this.place(member);
  }

  addColumn(name, title, states) {
    const body = el("div", { className: "kanban-states" });
    const column = el(
      "section",
      { className: "kanban-column", data: { group: name } },
      el("h3", { className: "kanban-column-title", text: title }),
      body,
    );
    this.board.append(column);
    for (const state of states) this.addState(body, state);
    return body;
  }

  addState(body, state) {
    const count = el("span", { className: "count", text: 0 });
    const cards = el("div", { className: "kanban-cards" });
    const section = el(
      "div",
      { className: "kanban-state", data: { state } },
      el("h4", { className: "kanban-state-title" }, el("span", { text: state }), count),
      cards,
    );
    body.append(section);
    const entry = { section, cards, count };
    this.states.set(state, entry);
    return entry;
  }

  /** Put a machine's card in the column of its current state (creating what is missing). */
  place(record) {
    if (!this.board) return;
    const state = record.current_state ?? "unknown";
    let target = this.states.get(state);
    if (!target) {
      this.other ??= this.addColumn(OTHER, OTHER, []);
      target = this.addState(this.other, state);
    }
    let card = this.cards.get(record.machine_name);
    if (!card) {
      card = el(
        "button",
        { className: "kanban-card", data: { machine: record.machine_name }, attrs: { type: "button" } },
        el("span", { className: "card-name", text: record.machine_name }),
        el("span", { className: "card-job" }),
        el("span", { className: "card-meta" }),
      );
      this.cards.set(record.machine_name, card);
    }
    card.record = record;
    card.dataset.status = record.status ?? "running";
    setText(card.querySelector(".card-job"), record.job_id ? `job ${record.job_id}` : "");
    this.describe(card);
    if (card.parentElement === target.cards) return;
    const source = card.parentElement;
    target.cards.append(card);
    if (source) {
      this.recount(source);
      if (typeof card.animate === "function") {
        card.animate([{ backgroundColor: "#ffe08a" }, { backgroundColor: "#ffffff" }], 900);
      }
    }
    this.recount(target.cards);
  }

  /** A card's "time in state - last event" line (written only when its text changes: with
   *  a thousand cards, rewriting unchanged text would cost a layout for nothing). */
  describe(card) {
    const record = card.record;
    const since = record.state_since ?? record.last_activity;
    const parts = [];
    if (record.status && record.status !== "running") parts.push(record.status);
    if (since) parts.push(`${roughDuration(Date.now() / 1000 - since)} in state`);
    const event = record.last_transition?.event_trigger ?? record.last_event;
    if (event) parts.push(`last: ${event}`);
    setText(card.querySelector(".card-meta"), parts.join(" \u00b7 "));
  }

  tick() {
    if (this.container.hidden) return;
    for (const card of this.cards.values()) this.describe(card);
  }

  /** Take a machine's card off the board (the filter no longer shows it). */
  remove(name) {
    const card = this.cards.get(name);
    if (!card) return;
    const source = card.parentElement;
    card.remove();
    this.cards.delete(name);
    if (source) this.recount(source);
  }

  recount(cards) {
    const count = cards.parentElement?.querySelector(".kanban-state-title .count");
    if (count) count.textContent = String(cards.childElementCount);
  }
}

function declaredStates(meta) {
  const states = [];
  const diagrams = meta && typeof meta.diagrams === "object" ? meta.diagrams : {};
  for (const entry of Object.values(diagrams)) {
    for (const state of Array.isArray(entry?.states) ? entry.states : []) {
      if (!states.includes(String(state))) states.push(String(state));
    }
  }
  for (const state of Array.isArray(meta?.states) ? meta.states : []) {
    if (!states.includes(String(state))) states.push(String(state));
  }
  return states;
}
