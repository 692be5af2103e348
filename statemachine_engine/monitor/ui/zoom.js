// Zoom and pan of a drawn diagram: the wheel zooms around the pointer, a drag pans, the
// buttons zoom in, out and back to the start view. The start view fits the diagram in its
// frame but never shrinks it below a readable size (the rest is reached by panning).

import { el } from "./dom.js";

const MIN_SCALE = 0.2;
const MAX_SCALE = 4;
/** Mermaid writes 16 px text: below this scale it gets too small to read (~12 px). */
const READABLE = 0.75;
const STEP = 1.25;
const CLICK_SLOP = 4; // pixels a press may move and still be a click

export class ZoomPan {
  /** @param {HTMLElement} frame  the element the diagram is drawn in (its viewport) */
  constructor(frame) {
    this.frame = frame;
    this.content = null;
    this.width = 0;
    this.height = 0;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.drag = null;
    this.dragged = false;
    this.touched = false; // the reader zoomed or panned: keep their view
    // a diagram drawn while its view was hidden (or a window resized) gets its start view
    // once the frame has a size
    new ResizeObserver(() => {
      if (!this.touched) this.reset();
    }).observe(frame);
    frame.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    frame.addEventListener("pointerdown", (event) => this.press(event));
    frame.addEventListener("pointermove", (event) => this.move(event));
    frame.addEventListener("pointerup", () => this.release());
    frame.addEventListener("pointercancel", () => this.release());
    // a drag that ends over a clickable node is not a click on it
    frame.addEventListener("click", (event) => {
      if (this.dragged) event.stopPropagation();
      this.dragged = false;
    }, true);
  }

  /** The zoom buttons, for a toolbar. */
  controls() {
    const button = (text, title, action, role) => {
      const node = el("button", { className: "zoom-button", text, title, attrs: { type: "button", "data-zoom": role } });
      node.addEventListener("click", action);
      return node;
    };
    return el(
      "div",
      { className: "zoom-controls", attrs: { role: "group", "aria-label": "Zoom" } },
      button("\u2212", "Zoom out", () => this.zoomBy(1 / STEP), "out"),
      button("+", "Zoom in", () => this.zoomBy(STEP), "in"),
      button("Reset", "Back to the start view", () => this.reset(), "reset"),
    );
  }

  /** Take a freshly drawn SVG of `width` x `height` user units and show its start view. */
  attach(svg, width, height) {
    this.content = svg;
    this.width = width;
    this.height = height;
    svg.style.transformOrigin = "0 0";
    this.reset();
  }

  reset() {
    if (!this.content) return;
    this.touched = false;
    const box = this.frame.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return;
    const fit = Math.min(box.width / this.width, box.height / this.height, 1);
    this.scale = Math.max(fit, READABLE);
    this.x = Math.max(0, (box.width - this.width * this.scale) / 2);
    this.y = Math.max(0, (box.height - this.height * this.scale) / 2);
    this.apply();
  }

  zoomBy(factor, px, py) {
    if (!this.content) return;
    const box = this.frame.getBoundingClientRect();
    const cx = px ?? box.width / 2;
    const cy = py ?? box.height / 2;
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    this.touched = true;
    // keep the point under (cx, cy) where it is
    this.x = cx - ((cx - this.x) * scale) / this.scale;
    this.y = cy - ((cy - this.y) * scale) / this.scale;
    this.scale = scale;
    this.apply();
  }

  wheel(event) {
    if (!this.content) return;
    event.preventDefault();
    const box = this.frame.getBoundingClientRect();
    this.zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - box.left, event.clientY - box.top);
  }

  press(event) {
    this.dragged = false;
    if (!this.content || event.button !== 0 || event.target.closest("button")) return;
    this.drag = { x: event.clientX, y: event.clientY, startX: this.x, startY: this.y, id: event.pointerId };
  }

  move(event) {
    if (!this.drag) return;
    const dx = event.clientX - this.drag.x;
    const dy = event.clientY - this.drag.y;
    if (!this.dragged && Math.hypot(dx, dy) < CLICK_SLOP) return;
    if (!this.dragged) this.frame.setPointerCapture?.(this.drag.id);
    this.dragged = true;
    this.touched = true;
    this.frame.classList.add("panning");
    this.x = this.drag.startX + dx;
    this.y = this.drag.startY + dy;
    this.apply();
  }

  release() {
    this.drag = null;
    this.frame.classList.remove("panning");
  }

  apply() {
    this.content.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.frame.dataset.scale = this.scale.toFixed(3);
  }
}
