// The audit view: every operator action (who, what, on what, when, and its result) from the
// store, newest first, paged.

import * as api from "./api.js";
import { dateTime, el } from "./dom.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

export class AuditView {
  constructor() {
    this.cursor = null;
    $("audit-more").addEventListener("click", () => this.load(false));
    $("audit-refresh").addEventListener("click", () => this.open());
  }

  open() {
    this.cursor = null;
    this.load(true);
  }

  async load(first) {
    if (!(await api.hasDatabase())) {
      $("audit-error").textContent = "This monitor reads no database: start it with --db PATH to see the audit log.";
      return;
    }
    let reply;
    try {
      reply = await api.audit({ limit: PAGE, before: first ? null : this.cursor });
    } catch (error) {
      $("audit-error").textContent = `Audit log unavailable: ${error.message}`;
      return;
    }
    $("audit-error").textContent = "";
    const rows = (Array.isArray(reply?.entries) ? reply.entries : []).map(auditRow);
    if (first) $("audit-body").replaceChildren(...rows);
    else $("audit-body").append(...rows);
    this.cursor = reply?.next_before ?? null;
    $("audit-more").hidden = !this.cursor;
    $("view-audit").dataset.loaded = String(Date.now());
  }
}

function auditRow(entry) {
  const ok = entry.result === "ok";
  const detail = entry.detail && Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : "";
  return el(
    "tr",
    { data: { action: entry.action, target: entry.target, result: ok ? "ok" : "error" } },
    el("td", { text: dateTime(entry.at) }),
    el("td", { text: entry.actor }),
    el("td", { text: entry.action }),
    el("td", { text: entry.target, className: "mono" }),
    el("td", { text: detail, className: "mono" }),
    el("td", {}, el("span", { className: "badge", text: ok ? "ok" : entry.result, data: { status: ok ? "completed" : "failed" } })),
  );
}
