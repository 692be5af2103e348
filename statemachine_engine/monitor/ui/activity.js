// The activity log: newest first, bounded, filterable by machine. Entries are text only.

import { clockTime, el } from "./dom.js";

const LEVELS = new Set(["debug", "info", "success", "warning", "error"]);

export class ActivityLog {
  /**
   * @param {HTMLOListElement} list
   * @param {HTMLSelectElement} filter
   * @param {number} [limit]
   */
  constructor(list, filter, limit = 500) {
    this.list = list;
    this.filter = filter;
    this.limit = limit;
    this.known = new Set();
    filter.addEventListener("change", () => this.applyFilter());
  }

  /** Add one line. `time` is epoch seconds; `level` one of debug/info/success/warning/error;
   *  `tag` a short label such as the output stream of a bash line. */
  add({ time, machine, level, message, tag = "" }) {
    const lvl = LEVELS.has(level) ? level : "info";
    const who = machine ? String(machine) : "";
    const entry = el(
      "li",
      { className: `log-entry level-${lvl}`, data: { level: lvl, machine: who } },
      el("time", { className: "log-time", text: clockTime(time) }),
      el("span", { className: "log-level", text: lvl }),
      el("span", { className: "log-machine", text: who }),
      tag ? el("span", { className: "log-tag", text: tag }) : null,
      el("span", { className: "log-message", text: message }),
    );
    entry.hidden = Boolean(this.filter.value) && this.filter.value !== who;
    this.list.prepend(entry);
    while (this.list.childElementCount > this.limit) this.list.lastElementChild.remove();
    if (who) this.remember(who);
  }

  /** Offer a machine in the filter list. */
  remember(machine) {
    if (this.known.has(machine)) return;
    this.known.add(machine);
    const options = [...this.filter.options].slice(1);
    const option = el("option", { text: machine, attrs: { value: machine } });
    const after = options.find((o) => o.value.localeCompare(machine) > 0);
    this.filter.insertBefore(option, after ?? null);
  }

  applyFilter() {
    const wanted = this.filter.value;
    for (const entry of this.list.children) {
      entry.hidden = Boolean(wanted) && entry.dataset.machine !== wanted;
    }
  }

  clear() {
    this.list.replaceChildren();
  }
}
