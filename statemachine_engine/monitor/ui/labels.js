// Keeping a drawn diagram's arrow labels apart. Mermaid places a self-loop's label beside
// its node with no regard for the labels of the arrows next to it (the README's hello.yaml
// drew "timeout(10)" over "job_done"), so each label that overlaps one placed before it,
// or a state, is moved to the nearest spot that clears them.

const GAP = 4; // user units between two labels

/** The translate(x, y) of an element's transform attribute ([0, 0] when it has none). */
function translation(node) {
  const match = /translate\(\s*([-\d.e]+)[\s,]+([-\d.e]+)\s*\)/.exec(node.getAttribute("transform") ?? "");
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

function overlaps(a, b) {
  return a.x < b.x + b.width + GAP && b.x < a.x + a.width + GAP && a.y < b.y + b.height + GAP && b.y < a.y + a.height + GAP;
}

/** A box in the SVG's user units, from an element's screen box. */
function userBox(svg, node) {
  const matrix = svg.getScreenCTM()?.inverse();
  const rect = node.getBoundingClientRect();
  if (!matrix) return { x: rect.x, y: rect.y, width: rect.width, height: rect.height };
  const a = new DOMPoint(rect.left, rect.top).matrixTransform(matrix);
  const b = new DOMPoint(rect.right, rect.bottom).matrixTransform(matrix);
  return { x: a.x, y: a.y, width: b.x - a.x, height: b.y - a.y };
}

/** Offsets a label may move by, nearest first (sideways counts a little less than up or
 *  down: a label beside its arrow still reads as its own). */
const OFFSETS = (() => {
  const offsets = [];
  for (let dx = -160; dx <= 160; dx += 8) {
    for (let dy = -80; dy <= 80; dy += 4) offsets.push([dx, dy, Math.hypot(dx * 0.8, dy)]);
  }
  return offsets.sort((a, b) => a[2] - b[2]);
})();

/**
 * Move overlapping labels of a rendered (in the document) Mermaid SVG apart: each to the
 * nearest spot where it overlaps no state and no label placed before it. Grows the viewBox
 * to what they then cover. Returns how many labels moved.
 */
export function separateLabels(svg) {
  const placed = [...svg.querySelectorAll("g.node")].map((node) => userBox(svg, node));
  let moved = 0;
  for (const label of svg.querySelectorAll("g.edgeLabel")) {
    const box = userBox(svg, label);
    if (box.width < 1 || box.height < 1) continue;
    const free = OFFSETS.find(([dx, dy]) => {
      const here = { ...box, x: box.x + dx, y: box.y + dy };
      return !placed.some((other) => overlaps(here, other));
    });
    const [dx, dy] = free ?? [0, 0];
    if (dx !== 0 || dy !== 0) {
      const [x, y] = translation(label);
      label.setAttribute("transform", `translate(${x + dx}, ${y + dy})`);
      moved += 1;
    }
    placed.push({ ...box, x: box.x + dx, y: box.y + dy });
  }
  if (moved) growViewBox(svg, placed);
  return moved;
}

function growViewBox(svg, boxes) {
  const view = svg.viewBox.baseVal;
  if (!view || view.width === 0) return;
  const left = Math.min(view.x, ...boxes.map((b) => b.x - GAP));
  const top = Math.min(view.y, ...boxes.map((b) => b.y - GAP));
  const right = Math.max(view.x + view.width, ...boxes.map((b) => b.x + b.width + GAP));
  const bottom = Math.max(view.y + view.height, ...boxes.map((b) => b.y + b.height + GAP));
  svg.setAttribute("viewBox", `${left} ${top} ${right - left} ${bottom - top}`);
}
