// The monitor's HTTP API: diagrams and their metadata, cached per page load.

const metadataCache = new Map();
const diagramCache = new Map();

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const reason = body && typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    const problem = new Error(reason);
    problem.status = response.status;
    problem.body = body;
    throw problem;
  }
  return body;
}

/** A config's diagram metadata (groups, template flag), or null when there is none. */
export function metadata(configType) {
  if (!metadataCache.has(configType)) {
    const path = `/api/diagram/${encodeURIComponent(configType)}/metadata`;
    metadataCache.set(configType, getJson(path).catch(() => null));
  }
  return metadataCache.get(configType);
}

/** `{machine_name, diagram_name, mermaid_code, metadata}`; rejects with the server's error. */
export function diagram(configType, name) {
  const key = `${configType}/${name}`;
  if (!diagramCache.has(key)) {
    const path = `/api/diagram/${encodeURIComponent(configType)}/${encodeURIComponent(name)}`;
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
