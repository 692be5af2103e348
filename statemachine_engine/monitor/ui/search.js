// The search box: machines and jobs by name, state or job id (GET /api/search), results in
// a list under the box; choosing one opens the machine's instance view or the job.

import * as api from "./api.js";
import { el } from "./dom.js";

export class SearchBox {
  /**
   * @param {HTMLInputElement} input
   * @param {HTMLElement} results
   * @param {{machine: (name: string) => void, job: (jobId: string) => void}} open
   */
  constructor(input, results, open) {
    this.input = input;
    this.results = results;
    this.timer = null;
    this.asked = "";
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), 200);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
      if (event.key === "Enter") {
        event.preventDefault();
        this.run().then(() => this.results.querySelector("button")?.click());
      }
    });
    results.addEventListener("click", (event) => {
      const hit = event.target.closest("button[data-kind]");
      if (!hit) return;
      this.close();
      if (hit.dataset.kind === "machine") open.machine(hit.dataset.id);
      else open.job(hit.dataset.id);
    });
    document.addEventListener("click", (event) => {
      if (!event.target.closest(".search")) this.close();
    });
  }

  close() {
    this.results.hidden = true;
  }

  async run() {
    const q = this.input.value.trim();
    this.asked = q;
    if (!q) {
      this.close();
      return;
    }
    let reply;
    try {
      reply = await api.search(q);
    } catch (error) {
      reply = { error: error.message };
    }
    if (this.asked !== q) return;
    const items = [];
    for (const m of Array.isArray(reply.machines) ? reply.machines : []) {
      items.push(hit("machine", m.name, `${m.name}`, `${m.state ?? "?"} - ${m.status ?? ""}`));
    }
    for (const j of Array.isArray(reply.jobs) ? reply.jobs : []) {
      items.push(hit("job", j.job_id, `job ${j.job_id}`, `${j.status ?? ""} - ${j.job_type ?? ""}`));
    }
    if (reply.error) items.push(el("li", { className: "search-note", text: `Search failed: ${reply.error}` }));
    else if (items.length === 0) items.push(el("li", { className: "search-note", text: `Nothing matches "${q}"` }));
    this.results.replaceChildren(...items);
    this.results.hidden = false;
  }
}

function hit(kind, id, title, detail) {
  return el(
    "li",
    {},
    el(
      "button",
      { data: { kind, id }, attrs: { type: "button" } },
      el("span", { className: "search-kind", text: kind }),
      el("span", { text: title }),
      el("span", { className: "search-detail", text: detail }),
    ),
  );
}
