// Building DOM nodes from data. Text always goes in through textContent and attributes through
// setAttribute/dataset: nothing that arrives in an event is ever parsed as HTML.

/**
 * Create an element.
 * @param {string} tag
 * @param {{className?: string, text?: unknown, title?: unknown, data?: Record<string, unknown>,
 *          attrs?: Record<string, unknown>}} [options]
 * @param {...(Node|string|null|undefined|false)} children  strings become text nodes
 */
export function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  if (options.className) node.className = options.className;
  if (options.text !== undefined && options.text !== null) node.textContent = String(options.text);
  if (options.title !== undefined && options.title !== null) node.title = String(options.title);
  for (const [key, value] of Object.entries(options.data ?? {})) node.dataset[key] = String(value);
  for (const [key, value] of Object.entries(options.attrs ?? {})) {
    node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** Remove every child of a node. */
export function clear(node) {
  node.replaceChildren();
}

/** `HH:MM:SS` of an epoch time in seconds (the events' unit), in local time. */
export function clockTime(seconds) {
  const date = Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : new Date();
  return date.toLocaleTimeString([], { hour12: false });
}

/** A CSS.escape that also works where CSS.escape is missing. */
export function cssEscape(value) {
  if (globalThis.CSS && typeof CSS.escape === "function") return CSS.escape(String(value));
  return String(value).replace(/[^a-zA-Z0-9_-]/g, (c) => `\\${c}`);
}

/** A short duration: `42s`, `3m 05s`, `2h 07m`, `3d 4h`. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** `YYYY-MM-DD HH:MM:SS` of an epoch time in seconds, in local time ("-" for none). */
export function dateTime(seconds) {
  if (!Number.isFinite(Number(seconds)) || !seconds) return "-";
  const date = new Date(Number(seconds) * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${date.toLocaleTimeString([], { hour12: false })}`;
}
