// The WebSocket to the monitor: connect, reconnect with exponential backoff, keep alive.

import { serverConfig } from "./api.js";

const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const PING_EVERY_MS = 30000;

/** Where the event stream is: asked from /api/config, else guessed from the page address. */
export async function websocketUrl() {
  try {
    const config = await serverConfig();
    if (typeof config.websocket_url === "string") return config.websocket_url;
  } catch (error) {
    // fall through to the guess below
  }
  const port = location.port === "3001" || !location.port ? 3002 : Number(location.port) + 1;
  return `ws://${location.hostname}:${port}/ws/events`;
}

export class Connection {
  /**
   * @param {() => Promise<string>} resolveUrl
   * @param {{onMessage: (message: object) => void,
   *          onStatus: (state: string, detail: string) => void}} handlers
   */
  constructor(resolveUrl, handlers) {
    this.resolveUrl = resolveUrl;
    this.handlers = handlers;
    this.attempts = 0;
    this.socket = null;
    this.pingTimer = null;
    this.retryTimer = null;
  }

  async start() {
    clearTimeout(this.retryTimer);
    this.handlers.onStatus("connecting", "Connecting...");
    let url;
    try {
      url = await this.resolveUrl();
    } catch (error) {
      this.scheduleReconnect(`cannot find the monitor: ${error}`);
      return;
    }
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempts = 0;
      this.handlers.onStatus("connected", "Connected");
      this.pingTimer = setInterval(() => this.send("ping"), PING_EVERY_MS);
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      clearInterval(this.pingTimer);
      if (this.socket !== socket) return;
      const why = event.reason ? `: ${event.reason}` : "";
      this.scheduleReconnect(`Disconnected${why}`);
    });
  }

  scheduleReconnect(detail) {
    const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** this.attempts);
    this.attempts += 1;
    this.handlers.onStatus("disconnected", `${detail} - retrying in ${Math.round(delay / 1000)} s`);
    this.retryTimer = setTimeout(() => this.start(), delay);
  }

  receive(data) {
    if (typeof data !== "string") return;
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      return; // the hub only relays valid events; anything else is not ours to show
    }
    if (message && message.type === "ping") {
      this.send("pong");
      return;
    }
    if (message && message.type === "pong") return;
    this.handlers.onMessage(message);
  }

  /** Ask the server for a fresh snapshot. */
  refresh() {
    this.send("refresh");
  }

  send(text) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(text);
  }
}
