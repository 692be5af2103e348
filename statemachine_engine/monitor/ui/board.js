// The machines view: the status filter chips, one tab per machine (a templated machine's
// instances share one), and the selected tab's diagram or Kanban board. Every count shown
// (header, chips, tabs, board) is taken from the same filtered table, so they agree.

import * as api from "./api.js";
import { DiagramView } from "./diagram.js";
import { el } from "./dom.js";
import { KanbanView } from "./kanban.js";
import { FILTERS } from "./machines.js";
import { TabBar } from "./tabs.js";

const $ = (id) => document.getElementById(id);

export class MachinesView {
  /**
   * @param {import("./machines.js").MachineStore} store
   * @param {(name: string) => void} openInstance
   */
  constructor(store, openInstance) {
    this.store = store;
    this.tabs = new TabBar($("tabs"), (key) => this.select(key));
    this.diagram = new DiagramView($("diagram"), $("breadcrumb"));
    this.kanban = new KanbanView($("kanban"), openInstance);
    this.groups = new Map();
    this.selected = null;
    this.view = null; // "diagram" | "kanban" for the selected tab
    this.viewChoice = new Map(); // tab -> view the user picked
    this.lastChanged = new Map(); // tab -> machine that changed last (shown in the diagram)
    $("filters").addEventListener("click", (event) => {
      const chip = event.target.closest("[data-filter]");
      if (chip) this.setFilter(chip.dataset.filter);
    });
    $("view-toggle").addEventListener("click", () => this.toggleView());
    $("open-instance").addEventListener("click", () => {
      const group = this.groups.get(this.selected);
      const focus = group ? this.focusMachine(group) : null;
      if (focus) openInstance(focus.machine_name);
    });
  }

  setFilter(filter) {
    if (!FILTERS.includes(filter) || filter === this.store.filter) return;
    this.store.filter = filter;
    this.refresh(true);
  }

  groupOfMachine(name) {
    const record = this.store.machines.get(name);
    return record ? this.store.groupKey(record) : null;
  }

  /** Redraw chips and tabs; select the first tab when nothing (or a vanished one) is. */
  refresh(rebuildView) {
    this.groups = this.store.groups();
    this.renderChips();
    let shown = 0;
    for (const group of this.groups.values()) shown += group.members.length;
    $("stat-machines").textContent = String(shown);
    $("empty").hidden = this.groups.size > 0;
    $("empty").textContent = this.store.machines.size ? `No ${this.store.filter} machines.` : "Waiting for machines...";
    let selected = this.selected;
    if (!selected || !this.groups.has(selected)) selected = this.groups.keys().next().value ?? null;
    this.tabs.render(this.groups, selected);
    if (selected !== this.selected || rebuildView) this.select(selected);
    for (const group of this.groups.values()) this.learnTemplate(group.configType);
  }

  renderChips() {
    const counts = this.store.counts();
    const chips = FILTERS.map((filter) => {
      const active = filter === this.store.filter;
      return el(
        "button",
        { className: active ? "chip active" : "chip", data: { filter }, attrs: { type: "button", "aria-pressed": active } },
        el("span", { text: filter }),
        el("span", { className: "count", text: counts[filter] }),
      );
    });
    $("filters").replaceChildren(...chips);
  }

  /** Fetch a config's metadata once; a template config folds its instances into one tab. */
  async learnTemplate(configType) {
    if (!configType || this.store.templates.has(configType)) return;
    const meta = await api.metadata(configType);
    if (meta && meta.template === true && !this.store.templates.has(configType)) {
      this.store.templates.add(configType);
      this.refresh(true);
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
      $("open-instance").hidden = true;
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
    $("open-instance").hidden = kanban;
    const count = group.members.length;
    $("view-title").textContent = `${group.configType}${count > 1 ? ` - ${count} instances` : ""}`;
    if (kanban) {
      const meta = await api.metadata(group.configType);
      if (this.view === "kanban" && this.groups.get(this.selected) === group) this.kanban.show(group, meta);
    } else {
      const focus = this.focusMachine(group);
      await this.diagram.show(group.configType, focus?.current_state ?? null, focus?.last_transition ?? null, caption(group, focus));
    }
  }

  /** The machine a tab's diagram follows: the one that changed last. */
  focusMachine(group) {
    const last = this.store.machines.get(this.lastChanged.get(group.key));
    return last && group.members.includes(last) ? last : group.members[0] ?? null;
  }

  /** A machine changed (`isNew`: first seen; `statusChanged`: moved between the chips;
   *  `moved`: took a transition): apply it to the visible view without redrawing it. */
  changed(name, { isNew = false, statusChanged = false, moved = false } = {}) {
    const record = this.store.machines.get(name);
    if (!record) return;
    const group = this.store.groupKey(record);
    if (moved) this.lastChanged.set(group, name);
    if (isNew || statusChanged) this.refresh(false);
    if (group !== this.selected) return;
    if (this.view === "kanban") {
      if (this.kanban.key !== this.selected) return;
      if (this.store.shown(record)) this.kanban.place(record);
      else this.kanban.remove(name);
    } else if (this.view === "diagram" && this.store.shown(record)) {
      const tab = this.groups.get(this.selected);
      if (tab) this.diagram.show(tab.configType, record.current_state, record.last_transition, caption(tab, record));
    }
  }
}

/** Whose state a tab's diagram shows, when the tab holds more than one machine. */
function caption(group, focus) {
  if (!focus || (!group.templated && group.members.length <= 1)) return "";
  return `Showing ${focus.machine_name} (changed last) - open a card for another instance`;
}
