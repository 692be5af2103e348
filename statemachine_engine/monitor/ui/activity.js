// The activity log: newest first, filterable by machine. Live lines go on top; the store's
// older lines (backfilled on load, "load more" for the next page) go at the bottom, and a
// live line the backfill already showed is not shown twice. Entries are text only.

import { clockTime, el } from "./dom.js";

const LEVELS = new Set(["debug", "info", "success", "warning", "error"]);

/** A history item of the API (`{kind, at, machine, ...}`) as a log line. */
export function historyLine(item, machine = item.machine) {
  const time = Number(item.at);
  if (item.kind === "transition") {
    const event = item.event ? ` (${item.event})` : "";
    return { time, machine, level: "info", message: `${item.from_state} -> ${item.to_state}${event}` };
  }
  if (item.kind === "error") {
    const where = [item.action ? `${item.action} failed` : "", item.state ? `in ${item.state}` : ""].filter(Boolean).join(" ");
    return { time, machine, level: "error", message: `${where ? `${where}: ` : ""}${item.message ?? ""}` };
  }
  return { time, machine, level: item.level ?? "info", message: String(item.message ?? "") };
}

export class ActivityLog {
  /**
   * @param {HTMLOListElement} list
   * @param {HTMLSelectElement} filter
   * @param {number} [limit]  live lines kept on top of what was loaded from the store
   */
  constructor(list, filter, limit = 500) {
    this.list = list;
    this.filter = filter;
    this.limit = limit;
    this.loaded = 0;
    this.known = new Set();
    /** key -> how many backfilled lines have it (a live copy of one is skipped once) */
    this.backfilled = new Map();
    /** keys of the live lines since the last reconnect (a catch-up skips them) */
    this.recent = new Set();
    /** the time of the newest line shown (epoch seconds) */
    this.newest = 0;
    filter.addEventListener("change", () => this.applyFilter());
  }

  entry({ time, machine, level, message, tag = "" }) {
    const lvl = LEVELS.has(level) ? level : "info";
    const who = machine ? String(machine) : "";
    const node = el(
      "li",
      { className: `log-entry level-${lvl}`, data: { level: lvl, machine: who } },
      el("time", { className: "log-time", text: clockTime(time) }),
      el("span", { className: "log-level", text: lvl }),
      el("span", { className: "log-machine", text: who }),
      tag ? el("span", { className: "log-tag", text: tag }) : null,
      el("span", { className: "log-message", text: message }),
    );
    node.hidden = Boolean(this.filter.value) && this.filter.value !== who;
    if (who) this.remember(who);
    return node;
  }

  /** Add one live line on top; returns its element (null: the backfill showed it). `time`
   *  is epoch seconds; `level` debug/info/success/warning/error; `tag` a short label such
   *  as the output stream of a bash line. */
  add(line) {
    if (this.consume(line)) return null;
    this.recent.add(keyOf(line));
    this.newest = Math.max(this.newest, Number(line.time) || 0);
    const node = this.entry(line);
    this.list.prepend(node);
    while (this.list.childElementCount > this.limit + this.loaded) this.list.lastElementChild.remove();
    return node;
  }

  /**
   * After a reconnect: the store's lines (newest first) newer than `since` that the page
   * missed while it was cut off go on top, oldest first; one the live stream has shown
   * since is skipped, and a live copy arriving later is skipped too.
   */
  catchUp(lines, since) {
    const missed = lines.filter((line) => Number(line.time) > since && !this.recent.has(keyOf(line)));
    for (const line of missed.reverse()) {
      this.list.prepend(this.entry(line));
      this.newest = Math.max(this.newest, Number(line.time) || 0);
      const key = keyOf(line);
      this.backfilled.set(key, (this.backfilled.get(key) ?? 0) + 1);
    }
    return missed.length;
  }

  /** A reconnect: what the live stream shows from now on is told apart from before. */
  reconnected() {
    this.recent.clear();
  }

  /** Append lines older than everything shown (history from the store, newest first). */
  older(lines) {
    for (const line of lines) {
      this.newest = Math.max(this.newest, Number(line.time) || 0);
      this.list.append(this.entry(line));
      const key = keyOf(line);
      this.backfilled.set(key, (this.backfilled.get(key) ?? 0) + 1);
    }
    this.loaded += lines.length;
  }

  /** Whether a live line is one the backfill already shows (within a second either way). */
  consume(line) {
    if (this.backfilled.size === 0) return false;
    for (const shift of [0, -1, 1]) {
      const key = keyOf({ ...line, time: Number(line.time) + shift });
      const left = this.backfilled.get(key);
      if (left) {
        if (left === 1) this.backfilled.delete(key);
        else this.backfilled.set(key, left - 1);
        return true;
      }
    }
    return false;
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
    this.loaded = 0;
  }
}

function keyOf(line) {
  return `${line.machine ?? ""}\u0000${line.message}\u0000${Math.floor(Number(line.time))}`;
}
