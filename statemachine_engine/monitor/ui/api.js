// The monitor's HTTP API: diagrams and their metadata (cached per page load), the store's
// history, jobs and audit (read on demand), and the operator actions (POST with the token).

import { authorization, forgetToken } from "./token.js";

const metadataCache = new Map();
const diagramCache = new Map();

/** An API error: `message` is the server's `error` text, `status` its HTTP status. */
export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function reply(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const reason = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new ApiError(reason, response.status, body);
  }
  return body;
}

export async function getJson(path) {
  return reply(await fetch(path, { cache: "no-store" }));
}

/** A query string of the non-empty values of `params` (leading `?`, or ""). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const part = (value) => encodeURIComponent(String(value));

/** A config's diagram metadata (groups, template flag), or null when there is none. */
export function metadata(configType) {
  if (!metadataCache.has(configType)) {
    const path = `/api/diagram/${part(configType)}/metadata`;
    metadataCache.set(configType, getJson(path).catch(() => null));
  }
  return metadataCache.get(configType);
}

/** `{machine_name, diagram_name, mermaid_code, metadata}`; rejects with the server's error. */
export function diagram(configType, name) {
  const key = `${configType}/${name}`;
  if (!diagramCache.has(key)) {
    const path = `/api/diagram/${part(configType)}/${part(name)}`;
    const request = getJson(path);
    request.catch(() => diagramCache.delete(key)); // retry a failure next time
    diagramCache.set(key, request);
  }
  return diagramCache.get(key);
}

/** The groups of a config as Kanban columns: [{name, title, states}] (empty when none). */
export function stateGroups(meta) {
  const diagrams = meta && typeof meta.diagrams === "object" ? meta.diagrams : {};
  const main = diagrams.main ?? {};
  const order = Array.isArray(main.composites) ? main.composites : Object.keys(diagrams);
  const groups = [];
  for (const name of order) {
    const entry = diagrams[name];
    if (name === "main" || !entry || !Array.isArray(entry.states)) continue;
    groups.push({ name, title: String(entry.title ?? name), states: entry.states.map(String) });
  }
  return groups;
}

let configRequest = null;

/** `/api/config` (the WebSocket address, whether a database is read), once per page. */
export function serverConfig() {
  configRequest ??= getJson("/api/config").catch((error) => {
    configRequest = null;
    throw error;
  });
  return configRequest;
}

/** Whether the monitor reads a database (its history, jobs and audit endpoints answer). */
export async function hasDatabase() {
  try {
    return (await serverConfig()).database !== false;
  } catch (error) {
    return false;
  }
}

// -- the store's history ------------------------------------------------------------------

/** `{machines: [...], counts: {...}}`: every machine the store knows. */
export const machines = (params = {}) => getJson(`/api/machines${query(params)}`);

// Looked up through the listings, whose answer for "none" is an empty list: a 404 would be
// logged by the browser as an error, and a machine the store does not know (yet) is normal.

/** The store's record of a machine, or null. */
export async function findMachine(name) {
  const reply = await machines({ status: "all", q: name });
  return (reply?.machines ?? []).find((row) => row.name === name) ?? null;
}

/** The store's record of a job, or null. */
export async function findJob(jobId) {
  const reply = await jobs({ q: jobId, limit: 500 });
  return (reply?.jobs ?? []).find((row) => row.job_id === jobId) ?? null;
}
/** One machine's transitions, errors and activity, newest first: `{items, next_before}`. */
export const history = (name, params = {}) =>
  getJson(`/api/machines/${part(name)}/history${query(params)}`);
/** The activity log across machines, newest first: `{items, next_before}`. */
export const activity = (params = {}) => getJson(`/api/activity${query(params)}`);
export const jobs = (params = {}) => getJson(`/api/jobs${query(params)}`);
export const jobStats = (minutes = 60) => getJson(`/api/jobs/stats${query({ minutes })}`);
export const search = (q) => getJson(`/api/search${query({ q })}`);
export const audit = (params = {}) => getJson(`/api/audit${query(params)}`);

// -- operator actions ---------------------------------------------------------------------

/**
 * POST an action with the bearer token (asked for when there is none). A refused token is
 * forgotten, so the next action asks again.
 */
export async function post(path, body = {}) {
  const headers = { "Content-Type": "application/json", ...(await authorization()) };
  const response = await fetch(path, {
    method: "POST",
    cache: "no-store",
    headers,
    body: JSON.stringify(body),
  });
  if (response.status === 401) forgetToken();
  return reply(response);
}

export const sendEvent = (name, type, payload) =>
  post(`/api/machines/${part(name)}/events`, { type, payload });
export const stopMachine = (name) => post(`/api/machines/${part(name)}/stop`);
export const retryJob = (jobId) => post(`/api/jobs/${part(jobId)}/retry`);
export const cancelJob = (jobId) => post(`/api/jobs/${part(jobId)}/cancel`);
export const requeueJob = (jobId) => post(`/api/jobs/${part(jobId)}/requeue`);
/** Retry every failed job matching `{type?, machine?, q?}`: `{retried, job_ids}`. */
export const retryFailed = (filter) => post("/api/jobs/retry", filter);
