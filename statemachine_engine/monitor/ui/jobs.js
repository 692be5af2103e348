// The jobs view: the queue from the store with status chips, type / machine filters and a
// job-id search; who holds a processing job, since when and its lease; attempts and the last
// error of a failed one; the per-minute chart; and the job actions (single and bulk retry).

import * as actions from "./actions.js";
import * as api from "./api.js";
import { jobsChart, ratesChart } from "./chart.js";
import { dateTime, duration, el } from "./dom.js";

const $ = (id) => document.getElementById(id);
const STATUSES = ["all", "pending", "processing", "completed", "failed", "cancelled"];
const PAGE = 50;
const REFRESH_MS = 3000;
const NO_DATABASE = "This monitor reads no database: start it with --db PATH (the database the runtime writes) to see the jobs.";

export class JobsView {
  constructor() {
    this.status = "all";
    this.cursor = null;
    this.pages = 0;
    this.loading = false;
    this.counts = {};
    this.timer = null;
    this.typing = null;
    $("job-chips").addEventListener("click", (event) => {
      const chip = event.target.closest("[data-status]");
      if (chip) {
        this.status = chip.dataset.status;
        this.reload();
      }
    });
    for (const id of ["job-type", "job-machine", "job-q"]) {
      $(id).addEventListener("input", () => {
        clearTimeout(this.typing);
        this.typing = setTimeout(() => this.reload(), 250);
      });
    }
    $("jobs-more").addEventListener("click", () => this.loadPage());
    $("jobs-retry-failed").addEventListener("click", () => this.retryFailed());
    $("jobs-body").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) this.act(button.dataset.action, button.dataset.job);
    });
  }

  /** The view was opened: load it, and keep page one fresh while it is shown. */
  open() {
    this.reload();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      if ($("view-jobs").hidden) clearInterval(this.timer);
      // page one only (a reader who loaded more keeps it), never over an open dialog, and
      // never while the last refresh is still on its way
      else if (this.pages <= 1 && !this.loading && !document.querySelector("dialog[open]")) {
        this.reload();
      }
    }, REFRESH_MS);
  }

  /** Show one job (from the search box). */
  search(jobId) {
    $("job-q").value = jobId;
    this.status = "all";
    this.reload();
  }

  filter() {
    return { type: $("job-type").value.trim(), machine: $("job-machine").value.trim(), q: $("job-q").value.trim() };
  }

  async reload() {
    if (!(await api.hasDatabase())) {
      $("jobs-error").textContent = NO_DATABASE;
      return;
    }
    this.cursor = null;
    this.loading = true;
    try {
      await Promise.all([this.loadPage(true), this.loadStats()]);
    } finally {
      this.loading = false;
    }
  }

  async loadPage(first = false) {
    const params = { ...this.filter(), status: this.status === "all" ? "" : this.status, limit: PAGE, before: first ? null : this.cursor };
    const key = JSON.stringify(params);
    this.pending = key;
    let reply;
    try {
      reply = await api.jobs(params);
    } catch (error) {
      $("jobs-error").textContent = `Jobs unavailable: ${error.message}`;
      return;
    }
    if (this.pending !== key) return; // a newer request is on its way
    $("jobs-error").textContent = "";
    const rows = (Array.isArray(reply?.jobs) ? reply.jobs : []).map(jobRow);
    if (first) $("jobs-body").replaceChildren(...rows);
    else $("jobs-body").append(...rows);
    this.pages = first ? 1 : this.pages + 1;
    this.cursor = reply?.next_before ?? null;
    $("jobs-more").hidden = !this.cursor;
    this.counts = reply?.counts ?? {};
    this.renderChips();
    $("view-jobs").dataset.loaded = String(Date.now());
  }

  async loadStats() {
    try {
      const stats = await api.jobStats(60);
      $("chart-jobs").replaceChildren(jobsChart(Array.isArray(stats?.minutes) ? stats.minutes : []));
      $("chart-rates").replaceChildren(ratesChart(stats?.transitions_per_second ?? {}));
    } catch (error) {
      $("chart-jobs").replaceChildren(el("p", { className: "empty", text: `No statistics: ${error.message}` }));
    }
  }

  renderChips() {
    let all = 0;
    for (const [status, count] of Object.entries(this.counts)) if (status !== "all") all += Number(count) || 0;
    const chips = STATUSES.map((status) => {
      const active = status === this.status;
      const count = status === "all" ? (this.counts.all ?? all) : (this.counts[status] ?? 0);
      return el(
        "button",
        { className: active ? "chip active" : "chip", data: { status }, attrs: { type: "button", "aria-pressed": active } },
        el("span", { text: status }),
        el("span", { className: "count", text: count }),
      );
    });
    $("job-chips").replaceChildren(...chips);
    $("jobs-retry-failed").disabled = !(this.counts.failed > 0);
  }

  async act(kind, jobId) {
    if (await actions.jobAction(kind, jobId)) this.reload();
  }

  async retryFailed() {
    const filter = this.filter();
    const request = Object.fromEntries(Object.entries(filter).filter(([, value]) => value));
    if (await actions.retryFailed(request, this.counts.failed ?? 0)) this.reload();
  }
}

/** One job as a table row, with the actions its status allows. */
function jobRow(job) {
  const now = Date.now() / 1000;
  let holder = "";
  if (job.status === "processing") {
    const since = job.started_at ? ` since ${dateTime(job.started_at)}` : "";
    let lease = "";
    if (job.lease_until) lease = job.lease_until > now ? ` (lease ${duration(job.lease_until - now)} left)` : " (lease expired)";
    holder = `${job.claimed_by ?? "?"}${since}${lease}`;
  }
  const buttons = [];
  const button = (action, text) => el("button", { text, data: { action, job: job.job_id }, attrs: { type: "button" } });
  if (job.status === "failed") buttons.push(button("retry", "Retry"));
  if (job.status === "pending") buttons.push(button("cancel", "Cancel"));
  if (job.status === "processing") buttons.push(button("requeue", "Requeue"));
  const cell = (text, className = "") => el("td", { text: text ?? "", className });
  return el(
    "tr",
    { data: { job: job.job_id, status: job.status } },
    cell(job.job_id, "mono"),
    cell(job.job_type),
    cell(job.machine_type ?? ""),
    el("td", {}, el("span", { className: "badge", text: job.status, data: { status: job.status } })),
    cell(`${job.attempts ?? 0}${job.max_attempts ? ` / ${job.max_attempts}` : ""}`),
    cell(holder),
    cell(dateTime(job.created_at)),
    cell(job.status === "completed" ? dateTime(job.completed_at) : ""),
    cell(job.error_message ?? "", "job-error"),
    el("td", { className: "row-actions" }, ...buttons),
  );
}
