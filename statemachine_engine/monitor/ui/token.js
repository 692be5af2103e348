// The operator's write token. The start-up link carries it in the address's fragment
// (`#token=...`, which never reaches a server log); the page keeps it in sessionStorage for
// this tab only and takes it out of the address bar. Without one, the first action asks.

import { promptToken } from "./dialogs.js";

const KEY = "statemachine-monitor-token";

/** Move a `#token=...` fragment into sessionStorage and out of the address bar. */
export function adoptFragmentToken() {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = fragment.get("token");
  if (token === null) return;
  if (token) sessionStorage.setItem(KEY, token);
  fragment.delete("token");
  const rest = fragment.toString();
  history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
}

export function hasToken() {
  return Boolean(sessionStorage.getItem(KEY));
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** The Authorization header, asking the operator for the token when the page has none. */
export async function authorization() {
  let token = sessionStorage.getItem(KEY);
  if (!token) {
    token = await promptToken();
    if (!token) throw new Error("no token given: the action was not sent");
    sessionStorage.setItem(KEY, token);
  }
  return { Authorization: `Bearer ${token}` };
}
