// Modal dialogs (<dialog> elements built on demand): confirming an action, the event form,
// the token prompt. Each resolves with what the operator chose; Escape or Cancel gives null.

import { el } from "./dom.js";

/**
 * Show a modal form and resolve with `collect()`'s value on OK (null on Cancel/Escape).
 * `collect` returns `{error}` to keep the dialog open with that message.
 */
function modal({ title, body = [], okText = "OK", danger = false, collect = () => true }) {
  const error = el("p", { className: "dialog-error", attrs: { role: "alert" } });
  const ok = el("button", {
    className: danger ? "primary danger" : "primary",
    text: okText,
    attrs: { type: "submit", value: "ok", "data-role": "ok" },
  });
  const cancel = el("button", { text: "Cancel", attrs: { type: "button", "data-role": "cancel" } });
  const form = el(
    "form",
    { attrs: { method: "dialog" } },
    el("h2", { text: title }),
    ...body,
    error,
    el("div", { className: "dialog-buttons" }, cancel, ok),
  );
  const dialog = el("dialog", { className: "modal" }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", (event) => {
      const value = collect();
      if (value && typeof value === "object" && "error" in value) {
        event.preventDefault();
        error.textContent = value.error;
        return;
      }
      result = value;
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
  });
}

/** Ask "are you sure?" about an action; resolves true to go ahead. */
export async function confirmAction(title, detail, okText = "Confirm", danger = false) {
  const lines = (Array.isArray(detail) ? detail : [detail]).map((line) => el("p", { text: line }));
  return (await modal({ title, body: lines, okText, danger })) === true;
}

/** The token prompt of the first action when the page was opened without one. */
export function promptToken() {
  const input = el("input", {
    attrs: { type: "password", name: "token", autocomplete: "off", "data-role": "token" },
  });
  return modal({
    title: "Operator token",
    body: [
      el("p", {
        text: "Actions need the monitor's token: the #token=... of the link it printed at start (or its token file).",
      }),
      el("label", {}, "Token ", input),
    ],
    okText: "Use token",
    collect: () => (input.value.trim() ? input.value.trim() : { error: "Paste the token first." }),
  });
}

/**
 * The payload of an event as the form's text says: a JSON object (empty text: {}).
 * Returns `{payload}` or `{error}` saying what is wrong.
 */
export function parsePayload(text) {
  const source = String(text).trim();
  if (!source) return { payload: {} };
  let value;
  try {
    value = JSON.parse(source);
  } catch (error) {
    return { error: `The payload is not valid JSON: ${error.message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "The payload must be a JSON object, such as {\"job_id\": \"j1\"}." };
  }
  return { payload: value };
}

/** Ask for an event to send to a machine: resolves `{type, payload}` or null. */
export function askEvent(machine, knownEvents = []) {
  const listId = `events-of-${Math.random().toString(36).slice(2)}`;
  const type = el("input", {
    attrs: { name: "type", required: "", list: listId, autocomplete: "off", "data-role": "event-type" },
  });
  const options = el("datalist", { attrs: { id: listId } }, ...knownEvents.map((e) => el("option", { attrs: { value: e } })));
  const payload = el("textarea", {
    attrs: { name: "payload", rows: 5, spellcheck: "false", placeholder: "{}", "data-role": "payload" },
  });
  return modal({
    title: `Send an event to ${machine}`,
    body: [
      el("label", {}, "Event type ", type, options),
      el("label", {}, "Payload (JSON object) ", payload),
    ],
    okText: "Send event",
    collect: () => {
      const name = type.value.trim();
      if (!name) return { error: "Give the event's type." };
      if (/\s/.test(name)) return { error: `An event type has no spaces: ${JSON.stringify(name)}.` };
      const parsed = parsePayload(payload.value);
      if (parsed.error) return { error: parsed.error };
      return { type: name, payload: parsed.payload };
    },
  });
}
