// Operator actions: each is confirmed in a dialog, POSTed with the token, and its result or
// error shown in the notice area (and kept in the audit log by the server).

import * as api from "./api.js";
import { askEvent, confirmAction } from "./dialogs.js";
import { el } from "./dom.js";

const NOTICE_MS = 8000;

/** Show one result line at the top of the page; errors stay until dismissed. */
export function notify(message, level = "info") {
  const area = document.getElementById("notices");
  const close = el("button", { className: "notice-close", text: "x", attrs: { type: "button", "aria-label": "Dismiss" } });
  const role = level === "error" ? "alert" : "status";
  const notice = el(
    "div",
    { className: `notice notice-${level}`, data: { level }, attrs: { role } },
    el("span", { text: message }),
    close,
  );
  close.addEventListener("click", () => notice.remove());
  area.prepend(notice);
  if (level !== "error") setTimeout(() => notice.remove(), NOTICE_MS);
}

/** Run a confirmed action: null when the operator cancelled, else the server's reply. */
async function perform(label, call) {
  try {
    const result = await call();
    notify(`${label}: done`, "success");
    return result;
  } catch (error) {
    const status = error.status ? ` (HTTP ${error.status})` : "";
    notify(`${label} failed${status}: ${error.message}`, "error");
    return null;
  }
}

export async function sendEvent(machine, knownEvents = []) {
  const choice = await askEvent(machine, knownEvents);
  if (!choice) return null;
  const detail = [`Event: ${choice.type}`, `Payload: ${JSON.stringify(choice.payload)}`];
  if (!(await confirmAction(`Send ${choice.type} to ${machine}?`, detail, "Send"))) return null;
  const result = await perform(`Send ${choice.type} to ${machine}`, () =>
    api.sendEvent(machine, choice.type, choice.payload),
  );
  if (result && result.delivered === false) {
    notify(`${choice.type} was recorded for ${machine} but not delivered (${result.status ?? "undelivered"})`, "warning");
  }
  return result;
}

export async function stopMachine(machine) {
  const ok = await confirmAction(`Stop ${machine}?`, "The machine stops and does not take further events.", "Stop machine", true);
  return ok ? perform(`Stop ${machine}`, () => api.stopMachine(machine)) : null;
}

const JOB_ACTIONS = {
  retry: { verb: "Retry", call: api.retryJob, why: "The failed job goes back to pending with its attempts reset." },
  cancel: { verb: "Cancel", call: api.cancelJob, why: "The pending job will not run.", danger: true },
  requeue: { verb: "Requeue", call: api.requeueJob, why: "The job leaves the worker holding it and goes back to pending." },
};

/** retry / cancel / requeue one job. */
export async function jobAction(kind, jobId) {
  const action = JOB_ACTIONS[kind];
  const ok = await confirmAction(`${action.verb} job ${jobId}?`, action.why, action.verb, action.danger ?? false);
  return ok ? perform(`${action.verb} job ${jobId}`, () => action.call(jobId)) : null;
}

/** Retry every failed job matching the jobs view's filter. */
export async function retryFailed(filter, matching) {
  const what = Object.entries(filter).filter(([, v]) => v).map(([k, v]) => `${k} = ${v}`);
  const detail = [`${matching} failed job(s) match${what.length ? `: ${what.join(", ")}` : " (no filter: every failed job)"}.`];
  if (!(await confirmAction("Retry the failed jobs?", detail, "Retry all", true))) return null;
  const result = await perform("Bulk retry", () => api.retryFailed(filter));
  if (result) notify(`Retried ${result.retried} job(s)`, "success");
  return result;
}
