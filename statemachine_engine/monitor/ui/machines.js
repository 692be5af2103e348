// The browser's copy of the machine table (the store's history merged with live events),
// the status filter, and how machines fold into tabs.

// `worker_001`, `worker_002`, ... are instances of `worker` (two or more trailing digits).
const INSTANCE = /^(.+?)_\d{2,}$/;

export const STATUSES = ["running", "finished", "failed", "stopped"];
/** The filter chips: each status and "all". */
export const FILTERS = ["running", "finished", "failed", "stopped", "all"];

const FIELDS = [
  "current_state",
  "config_type",
  "status",
  "started_at",
  "last_activity",
  "state_since",
  "last_transition",
  "job_id",
  "last_event",
];

/** The template name of an instance name, or null for a machine that is not one. */
export function instanceBase(name) {
  const match = INSTANCE.exec(name);
  return match ? match[1] : null;
}

/** A machine of `GET /api/machines` in the shape of the browser's records. */
export function fromStore(row) {
  return {
    current_state: row.state,
    config_type: row.config,
    status: STATUSES.includes(row.status) ? row.status : null,
    started_at: row.started_at,
    last_activity: row.updated_at,
    state_since: row.updated_at,
    job_id: row.job_id,
    last_event: row.last_event,
  };
}

export class MachineStore {
  constructor() {
    /** @type {Map<string, {machine_name: string, current_state: string|null,
     *   config_type: string|null, status: string, started_at: number|null,
     *   last_activity: number|null, state_since: number|null, last_transition: object|null,
     *   job_id: string|null, last_event: string|null}>} */
    this.machines = new Map();
    /** config types whose metadata says `template: true` */
    this.templates = new Set();
    /** the status filter: one of FILTERS */
    this.filter = "all";
  }

  /** Merge a live snapshot's machines (the hub's table: running ones) into what is known. */
  mergeSnapshot(rows) {
    for (const row of rows ?? []) {
      if (row && typeof row.machine_name === "string") {
        this.upsert(row.machine_name, { ...row, status: "running" });
      }
    }
  }

  /** Create or update a machine; returns whether it is new. Null fields leave the old value. */
  upsert(name, fields) {
    const existing = this.machines.get(name);
    const record = existing ?? {
      machine_name: name,
      current_state: null,
      config_type: null,
      status: "running",
      started_at: null,
      last_activity: null,
      state_since: null,
      last_transition: null,
      job_id: null,
      last_event: null,
    };
    for (const key of FIELDS) {
      if (fields[key] !== undefined && fields[key] !== null) record[key] = fields[key];
    }
    if (fields.template === true && record.config_type) this.templates.add(record.config_type);
    this.machines.set(name, record);
    return !existing;
  }

  /** Whether a machine passes the status filter. */
  shown(record) {
    return this.filter === "all" || record.status === this.filter;
  }

  /** How many machines have each status, and "all". */
  counts() {
    const counts = { running: 0, finished: 0, failed: 0, stopped: 0, all: 0 };
    for (const record of this.machines.values()) {
      counts.all += 1;
      if (record.status in counts) counts[record.status] += 1;
    }
    return counts;
  }

  /** The tab a machine belongs to. */
  groupKey(record) {
    const base = instanceBase(record.machine_name);
    if (base) return base;
    if (record.config_type && this.templates.has(record.config_type)) return record.config_type;
    return record.machine_name;
  }

  /** Tabs of the machines the filter shows: key -> {key, configType, templated, members}. */
  groups() {
    const groups = new Map();
    const names = [...this.machines.keys()].sort();
    for (const name of names) {
      const record = this.machines.get(name);
      if (!this.shown(record)) continue;
      const key = this.groupKey(record);
      let group = groups.get(key);
      if (!group) {
        group = { key, configType: null, templated: false, members: [] };
        groups.set(key, group);
      }
      group.members.push(record);
      group.configType ??= record.config_type;
      if (key !== name || this.templates.has(record.config_type)) group.templated = true;
    }
    for (const group of groups.values()) group.configType ??= group.key;
    return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
