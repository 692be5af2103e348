// The Kanban board: one column per state group, its states stacked inside, one card per
// instance. Cards move when their machine changes state and leave when it terminates.

import { stateGroups } from "./api.js";
import { clear, clockTime, el } from "./dom.js";

const OTHER = "Other states";

export class KanbanView {
  /** @param {HTMLElement} container */
  constructor(container) {
    this.container = container;
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
    const title = record.last_activity ? `last activity ${clockTime(record.last_activity)}` : "";
    if (!card) {
      card = el("div", {
        className: "kanban-card",
        text: record.machine_name,
        data: { machine: record.machine_name },
      });
      this.cards.set(record.machine_name, card);
    } else if (card.parentElement === target.cards) {
      card.title = title;
      return;
    }
    const source = card.parentElement;
    card.title = title;
    target.cards.append(card);
    if (source) {
      this.recount(source);
      if (typeof card.animate === "function") {
        card.animate([{ backgroundColor: "#ffe08a" }, { backgroundColor: "#ffffff" }], 900);
      }
    }
    this.recount(target.cards);
  }

  /** Take a terminated machine's card off the board. */
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
