// The browser's copy of the machine table, and how machines fold into tabs.

// `worker_001`, `worker_002`, ... are instances of `worker` (two or more trailing digits).
const INSTANCE = /^(.+?)_\d{2,}$/;

/** The template name of an instance name, or null for a machine that is not one. */
export function instanceBase(name) {
  const match = INSTANCE.exec(name);
  return match ? match[1] : null;
}

export class MachineStore {
  constructor() {
    /** @type {Map<string, {machine_name: string, current_state: string|null,
     *   config_type: string|null, last_activity: number|null,
     *   last_transition: object|null}>} */
    this.machines = new Map();
    /** config types whose metadata says `template: true` */
    this.templates = new Set();
  }

  /** Replace everything with a snapshot's machines. */
  replaceAll(rows) {
    this.machines.clear();
    for (const row of rows ?? []) {
      if (row && typeof row.machine_name === "string") this.upsert(row.machine_name, row);
    }
  }

  /** Create or update a machine; returns whether it is new. */
  upsert(name, fields) {
    const existing = this.machines.get(name);
    const record = existing ?? {
      machine_name: name,
      current_state: null,
      config_type: null,
      last_activity: null,
      last_transition: null,
    };
    for (const key of ["current_state", "config_type", "last_activity", "last_transition"]) {
      if (fields[key] !== undefined && fields[key] !== null) record[key] = fields[key];
    }
    if (fields.template === true && record.config_type) this.templates.add(record.config_type);
    this.machines.set(name, record);
    return !existing;
  }

  remove(name) {
    return this.machines.delete(name);
  }

  /** The tab a machine belongs to. */
  groupKey(record) {
    const base = instanceBase(record.machine_name);
    if (base) return base;
    if (record.config_type && this.templates.has(record.config_type)) return record.config_type;
    return record.machine_name;
  }

  /** Tabs: key -> {key, configType, templated, members}, sorted by key. */
  groups() {
    const groups = new Map();
    const names = [...this.machines.keys()].sort();
    for (const name of names) {
      const record = this.machines.get(name);
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
