// The diagram view: a config's Mermaid state diagram with the current state lit, the last
// transition marked and (in an instance view) the path taken, updated in place (class
// changes only) as events arrive; zoomed and panned by ZoomPan.

import * as api from "./api.js";
import { clear, el } from "./dom.js";
import { separateLabels } from "./labels.js";
import { ZoomPan } from "./zoom.js";

let mermaidModule = null;
let renderCount = 0;

async function loadMermaid() {
  if (!mermaidModule) {
    mermaidModule = import("/vendor/mermaid/mermaid.esm.min.mjs").then((module) => {
      const mermaid = module.default;
      mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
      return mermaid;
    });
    mermaidModule.catch(() => {
      mermaidModule = null;
    });
  }
  return mermaidModule;
}

// `A --> B` or `A --> B : label`, one per line; `%%` lines are comments.
const ARROW = /^\s*([^\s:]+)\s*-->\s*([^\s:]+)\s*(?::\s*(.*?))?\s*$/;
const COMMENT = /^\s*%%/;

/**
 * The arrows ({from, to, labels}) of the diagram tool's Mermaid text, in the order Mermaid
 * numbers their SVG elements: the arrow at index i is drawn as path[data-id="edge<i>"] with its
 * label in .edgeLabel > .label[data-id="edge<i>"]. (Mermaid numbers relations in the order they
 * are written; notes would take numbers too, but the diagram tool writes none.) The tool writes
 * the self-loops of a state as one arrow, an event per line of its label (`a --> a : e1<br>e2`:
 * Mermaid 11 draws only the last loop of a node), so a label holds one or more events.
 */
export function parseArrows(code) {
  const arrows = [];
  for (const line of String(code).split("\n")) {
    const match = COMMENT.test(line) ? null : ARROW.exec(line);
    if (!match) continue;
    const labels = (match[3] ?? "").split(/<br\s*\/?>/i).map((part) => part.trim());
    arrows.push({ from: match[1], to: match[2], labels });
  }
  return arrows;
}

// An event name as the diagram tool writes it after `a --> b :` (whitespace collapsed;
// characters Mermaid would parse replaced by its #NN; entities).
const ENTITIES = { "#": "#35;", ":": "#58;", ";": "#59;", '"': "#quot;" };

export function mermaidLabel(text) {
  return String(text).split(/\s+/).filter(Boolean).join(" ").replace(/[#:;"]/g, (c) => ENTITIES[c]);
}

export class DiagramView {
  /**
   * @param {HTMLElement} container
   * @param {HTMLElement} breadcrumb
   */
  constructor(container, breadcrumb) {
    this.container = container;
    this.breadcrumb = breadcrumb;
    this.configType = null;
    this.diagramName = null;
    this.meta = null;
    this.nodes = new Map(); // state or group name -> svg element
    this.edges = []; // {from, to, labels, path, parts}: parts[i] shows labels[i]
    this.state = null;
    this.transition = null;
    this.visited = []; // transitions of the path taken: {from_state, to_state, event}
    this.token = 0;
    this.caption = el("p", { className: "diagram-caption" });
    this.frame = el("div", { className: "diagram-frame" });
    this.zoom = new ZoomPan(this.frame);
    container.append(el("div", { className: "diagram-bar" }, this.caption, this.zoom.controls()), this.frame);
    container.addEventListener("click", (event) => {
      const node = event.target.closest("[data-composite]");
      if (node && this.configType) this.load(this.configType, node.dataset.composite);
    });
    breadcrumb.addEventListener("click", (event) => {
      const link = event.target.closest("[data-diagram]");
      if (link && this.configType) this.load(this.configType, link.dataset.diagram);
    });
  }

  /** Show a config's overview (reloading only when the config changes), then light `state`.
   *  `caption` says whose state it is (a templated config's diagram shows one instance). */
  async show(configType, state, transition, caption = "") {
    this.state = state;
    this.transition = transition;
    this.caption.textContent = caption;
    this.container.dataset.focus = caption;
    if (configType !== this.configType || !this.diagramName) {
      await this.load(configType, "main");
    } else {
      this.highlight();
    }
  }

  /** Load and draw one diagram of a config. */
  async load(configType, name) {
    const token = ++this.token;
    this.configType = configType;
    this.diagramName = name;
    this.container.dataset.config = configType;
    this.container.dataset.diagram = name;
    this.container.dataset.rendered = "false";
    let reply;
    let mermaid;
    try {
      [reply, mermaid] = await Promise.all([api.diagram(configType, name), loadMermaid()]);
    } catch (error) {
      if (token === this.token) this.fail(missing(configType, error));
      return;
    }
    if (token !== this.token) return;
    this.meta = reply.metadata ?? null;
    let svgText;
    try {
      renderCount += 1;
      ({ svg: svgText } = await mermaid.render(`sm-diagram-${renderCount}`, reply.mermaid_code));
    } catch (error) {
      if (token === this.token) this.fail(`Cannot draw ${configType}/${name}: ${error.message ?? error}`);
      return;
    }
    if (token !== this.token) return;
    // The SVG is parsed as XML and imported, never assigned as HTML. Mermaid writes the line
    // breaks of its HTML labels as HTML (`<br>`), which XML only takes closed.
    const xml = svgText.replace(/<br\s*\/?>/gi, "<br/>");
    const doc = new DOMParser().parseFromString(xml, "image/svg+xml");
    if (doc.querySelector("parsererror")) {
      this.fail(`Cannot draw ${configType}/${name}: the diagram is not valid SVG`);
      return;
    }
    const svg = document.importNode(doc.documentElement, true);
    clear(this.frame);
    this.frame.append(svg);
    this.index(svg, parseArrows(reply.mermaid_code));
    this.renderBreadcrumb();
    this.highlight();
    this.fit(svg);
    this.container.dataset.rendered = "true";
  }

  /** Draw the SVG at its own size (text at Mermaid's 16 px), labels apart, zoomed to fit. */
  fit(svg) {
    svg.style.maxWidth = "none";
    let view = svg.viewBox.baseVal;
    svg.setAttribute("width", String(view.width));
    svg.setAttribute("height", String(view.height));
    const moved = separateLabels(svg);
    this.container.dataset.labelsMoved = String(moved);
    view = svg.viewBox.baseVal;
    svg.setAttribute("width", String(view.width));
    svg.setAttribute("height", String(view.height));
    this.zoom.attach(svg, view.width, view.height);
  }

  fail(message) {
    clear(this.frame);
    this.frame.append(el("p", { className: "diagram-error", text: message }));
    this.nodes.clear();
    this.edges = [];
    this.container.dataset.rendered = "error";
  }

  /** Find every state node and edge in the SVG and tag them with data attributes. */
  index(svg, arrows) {
    const prefix = `${svg.id}-state-`;
    this.nodes.clear();
    const groups = this.groupNames();
    for (const node of svg.querySelectorAll("g.node, g.statediagram-cluster")) {
      let name = node.dataset.id;
      if (!name && node.id.startsWith(prefix)) name = node.id.slice(prefix.length).replace(/-\d+$/, "");
      if (!name || name.startsWith("root_")) continue;
      node.dataset.stateId = name;
      this.nodes.set(name, node);
      if (groups.has(name) && name !== this.diagramName) {
        node.dataset.composite = name;
        node.classList.add("sm-clickable");
      }
    }
    // By Mermaid's ids, never by position: the SVG lists a self-loop after the other arrows.
    this.edges = arrows.map((arrow, index) => {
      const id = `edge${index}`;
      const path = svg.querySelector(`path[data-id="${id}"]`);
      const labelEl = svg.querySelector(`.edgeLabel > .label[data-id="${id}"]`)?.parentElement;
      if (path) path.dataset.event = arrow.labels.join("\n");
      return { ...arrow, path, parts: labelParts(labelEl ?? null, arrow.labels) };
    });
  }

  /** Names of the config's state groups that have their own diagram. */
  groupNames() {
    const diagrams = this.meta && typeof this.meta.diagrams === "object" ? this.meta.diagrams : {};
    return new Set(Object.keys(diagrams).filter((name) => name !== "main"));
  }

  /** The group a state belongs to, from the metadata. */
  groupOf(state) {
    for (const group of api.stateGroups(this.meta)) {
      if (group.states.includes(state)) return group.name;
    }
    return null;
  }

  renderBreadcrumb() {
    clear(this.breadcrumb);
    const overview = el("button", { className: "crumb", text: "Overview", data: { diagram: "main" } });
    overview.type = "button";
    this.breadcrumb.append(overview);
    if (this.diagramName && this.diagramName !== "main") {
      const entry = this.meta?.diagrams?.[this.diagramName];
      this.breadcrumb.append(
        el("span", { className: "crumb-sep", text: ">" }),
        el("span", { className: "crumb current", text: entry?.title ?? this.diagramName }),
      );
    }
  }

  /** The node id a state is drawn with (the diagram tool lists them in the metadata). */
  idOf(state) {
    const ids = this.meta && typeof this.meta.state_ids === "object" ? this.meta.state_ids : {};
    return typeof ids[state] === "string" ? ids[state] : state;
  }

  /** The node standing for a state here: its own, else its group's. */
  nodeFor(state) {
    const id = this.idOf(state);
    if (this.nodes.has(id)) return id;
    const group = this.groupOf(state);
    return group && this.nodes.has(group) ? group : null;
  }

  /** Light the current state and mark the last transition (class changes only). */
  highlight() {
    for (const node of this.container.querySelectorAll(".sm-active, .sm-active-group")) {
      node.classList.remove("sm-active", "sm-active-group");
    }
    for (const node of this.container.querySelectorAll(".sm-last-transition, .sm-visited")) {
      node.classList.remove("sm-last-transition", "sm-visited");
    }
    const state = this.state;
    this.container.dataset.state = state ?? "";
    this.container.dataset.activeNode = "";
    if (!state) return;
    const id = this.nodeFor(state);
    if (id) {
      this.nodes.get(id).classList.add("sm-active");
      this.container.dataset.activeNode = id;
      const group = this.groupOf(state);
      if (group && group !== id && this.nodes.has(group)) {
        this.nodes.get(group).classList.add("sm-active-group");
      }
    }
    this.markVisited();
    this.markTransition();
  }

  /** Show a path taken (an instance's transitions) as well as the current state. */
  setVisited(transitions) {
    this.visited = transitions;
    if (this.container.dataset.rendered === "true") this.highlight();
  }

  markVisited() {
    let marked = 0;
    for (const t of this.visited) {
      const found = this.findEdge(t.from_state, t.to_state, t.event);
      if (!found) continue;
      for (const node of found.nodes) node?.classList.add("sm-visited");
      marked += 1;
    }
    this.container.dataset.visited = String(marked);
  }

  markTransition() {
    const t = this.transition;
    this.container.dataset.lastEvent = "";
    if (!t) return;
    const found = this.findEdge(t.from_state, t.to_state, t.event_trigger);
    if (!found) return;
    for (const node of found.nodes) node?.classList.add("sm-last-transition");
    this.container.dataset.lastEvent = t.event_trigger ?? "";
  }

  /** The arrow (path and label part) drawn for a transition, or null. */
  findEdge(fromState, toState, trigger) {
    if (!fromState || !toState) return null;
    const event = mermaidLabel(trigger ?? "");
    const from = this.nodeFor(fromState);
    const to = this.nodeFor(toState);
    const wildcard = this.meta?.wildcard_id ?? null;
    const candidates = [
      (e) => e.from === from && e.to === to && e.labels.includes(event),
      (e) => wildcard !== null && e.from === wildcard && e.to === to && e.labels.includes(event),
      (e) => e.from === from && e.to === to && from !== to,
    ];
    for (const test of candidates) {
      const edge = this.edges.find(test);
      if (edge) {
        const index = edge.labels.indexOf(event);
        const parts = index >= 0 ? [edge.parts[index]] : edge.parts;
        return { edge, nodes: [edge.path, ...parts] };
      }
    }
    return null;
  }
}

/** Why a diagram is missing, and what finds it. */
function missing(configType, error) {
  const why = error?.message ?? String(error);
  if (error?.status === 404) {
    return (
      `No diagram for ${configType}: ${why}. The monitor reads the YAML configs of the ` +
      `project it was started in; start it with --project-root pointing at the folder that ` +
      `holds ${configType}'s YAML (statemachine-ui --project-root DIR).`
    );
  }
  return `No diagram for ${configType}: ${why}`;
}

/**
 * The element showing each label of an arrow: the lines of its label text (split at <br>), each
 * wrapped in a span.sm-event; the whole label when its lines cannot be told apart.
 */
function labelParts(labelEl, labels) {
  const text = labelEl?.querySelector("span.edgeLabel > p") ?? null;
  const lines = [[]];
  for (const node of text?.childNodes ?? []) {
    if (node.nodeName.toLowerCase() === "br") lines.push([]);
    else lines.at(-1).push(node);
  }
  if (!text || lines.length !== labels.length) return labels.map(() => labelEl);
  const parts = lines.map((nodes, index) =>
    el("span", { className: "sm-event", data: { event: labels[index] } }, ...nodes),
  );
  text.replaceChildren(...parts.flatMap((part, index) => (index ? [el("br"), part] : [part])));
  return parts;
}
