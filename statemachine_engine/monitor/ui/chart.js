// Plain SVG charts for the jobs view, drawn by our own code: jobs completed and failed per
// minute (stacked bars) with the queue depth (a line, its own scale), and transitions per
// second per machine template (horizontal bars). Every number is also in a <title> tooltip.

const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function chartSvg(width, height, label) {
  const attrs = { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": label };
  return svgEl("svg", attrs);
}

function hhmm(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

/** A nice upper bound for an axis holding `value`. */
function ceiling(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/**
 * The per-minute chart of `/api/jobs/stats`' `minutes` ({at, completed, failed, depth}).
 * @returns {SVGSVGElement}
 */
export function jobsChart(minutes, width = 640, height = 200) {
  const pad = { left: 36, right: 40, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const svg = chartSvg(width, height, "Jobs completed and failed per minute, and queue depth");
  const rows = [...minutes].sort((a, b) => a.at - b.at);
  const maxDone = ceiling(Math.max(0, ...rows.map((r) => (r.completed ?? 0) + (r.failed ?? 0))));
  const maxDepth = ceiling(Math.max(0, ...rows.map((r) => r.depth ?? 0)));
  const y = (value, max) => pad.top + plotH - (value / max) * plotH;
  svg.append(
    svgEl("line", { x1: pad.left, y1: pad.top + plotH, x2: pad.left + plotW, y2: pad.top + plotH, class: "axis" }),
    svgEl("text", { x: pad.left - 4, y: pad.top + 4, class: "tick", "text-anchor": "end" }, maxDone),
    svgEl("text", { x: pad.left - 4, y: pad.top + plotH, class: "tick", "text-anchor": "end" }, 0),
    svgEl("text", { x: pad.left + plotW + 4, y: pad.top + 4, class: "tick depth" }, maxDepth),
  );
  if (rows.length === 0) {
    svg.append(svgEl("text", { x: width / 2, y: height / 2, class: "empty-note", "text-anchor": "middle" }, "No jobs in the last hour"));
    return svg;
  }
  const slot = plotW / rows.length;
  const bar = Math.max(1, slot * 0.7);
  const points = [];
  rows.forEach((row, index) => {
    const x = pad.left + index * slot + (slot - bar) / 2;
    const done = row.completed ?? 0;
    const failed = row.failed ?? 0;
    const group = svgEl("g", { class: "minute", "data-at": row.at });
    group.append(svgEl("title", {}, `${hhmm(row.at)}: ${done} completed, ${failed} failed, queue depth ${row.depth ?? 0}`));
    const base = pad.top + plotH;
    const top = y(done, maxDone);
    const over = y(done + failed, maxDone);
    if (done) group.append(svgEl("rect", { x, y: top, width: bar, height: base - top, class: "bar-completed" }));
    if (failed) group.append(svgEl("rect", { x, y: over, width: bar, height: top - over, class: "bar-failed" }));
    svg.append(group);
    points.push(`${(x + bar / 2).toFixed(1)},${y(row.depth ?? 0, maxDepth).toFixed(1)}`);
    if (index % Math.max(1, Math.ceil(rows.length / 6)) === 0) {
      svg.append(svgEl("text", { x: x + bar / 2, y: height - 6, class: "tick", "text-anchor": "middle" }, hhmm(row.at)));
    }
  });
  svg.append(svgEl("polyline", { points: points.join(" "), class: "depth-line" }));
  return svg;
}

/** Transitions per second per machine template (`{config: rate}`), one bar each. */
export function ratesChart(rates, width = 320) {
  const entries = Object.entries(rates ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const row = 22;
  const height = Math.max(40, entries.length * row + 8);
  const svg = chartSvg(width, height, "Transitions per second per machine template");
  if (entries.length === 0) {
    svg.append(svgEl("text", { x: width / 2, y: 24, class: "empty-note", "text-anchor": "middle" }, "No transitions in the last minute"));
    return svg;
  }
  const labelW = 110;
  const max = ceiling(Math.max(...entries.map(([, rate]) => Number(rate) || 0)));
  entries.forEach(([config, rate], index) => {
    const value = Number(rate) || 0;
    const top = 4 + index * row;
    const group = svgEl("g", { class: "rate", "data-config": config });
    const shortName = config.length > 16 ? `${config.slice(0, 15)}\u2026` : config;
    const barWidth = Math.max(1, ((width - labelW - 50) * value) / max);
    group.append(
      svgEl("title", {}, `${config}: ${value.toFixed(2)} transitions/s`),
      svgEl("text", { x: labelW - 6, y: top + 14, class: "tick", "text-anchor": "end" }, shortName),
      svgEl("rect", { x: labelW, y: top + 3, width: barWidth, height: row - 8, class: "bar-rate" }),
      svgEl("text", { x: width - 4, y: top + 14, class: "tick", "text-anchor": "end" }, value.toFixed(2)),
    );
    svg.append(group);
  });
  return svg;
}
