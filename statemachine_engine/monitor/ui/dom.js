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
