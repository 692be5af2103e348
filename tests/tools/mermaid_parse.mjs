// Parse Mermaid state diagrams with the UI's own Mermaid (node_modules of the monitor UI) and
// report what the diagram holds: nodes with their parent composite, and edges.
//
// usage: node mermaid_parse.mjs <mermaid package dir> < texts.json > results.json
// Input: a JSON list of diagram texts. Output: a JSON list of
// {"ok": true, "nodes": [[id, parentId, label]], "edges": [[start, end, label]]} or
// {"ok": false, "error": "..."}.
//
// Only the parser and the state database run (no DOM), so the HTML sanitiser Mermaid calls on
// labels is replaced by the identity; entities are encoded the way Mermaid does before parsing.

import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const mermaidDir = process.argv[2];
const chunks = path.join(mermaidDir, "dist", "chunks", "mermaid.core");
const stateFile = fs.readdirSync(chunks).find((f) => /^stateDiagram-v2-.*\.mjs$/.test(f));
const purifyFile = path.join(mermaidDir, "..", "dompurify", "dist", "purify.es.mjs");

const purify = (await import(pathToFileURL(purifyFile).href)).default;
purify.addHook = () => {};
purify.removeHook = () => {};
purify.removeAllHooks = () => {};
purify.sanitize = (text) => String(text);

const { diagram } = await import(pathToFileURL(path.join(chunks, stateFile)).href);

function encodeEntities(text) {
  return text.replace(/#(\w+);/g, (_, name) => (/^\d+$/.test(name) ? `ﬂ°°${name}¶ß` : `ﬂ°${name}¶ß`));
}

const texts = JSON.parse(fs.readFileSync(0, "utf8"));
const results = texts.map((text) => {
  try {
    const db = diagram.db;
    diagram.parser.yy = db;
    diagram.parser.parse(encodeEntities(text));
    const data = db.getData();
    return {
      ok: true,
      nodes: data.nodes.map((n) => [n.id, n.parentId ?? null, String(n.label ?? "")]),
      edges: data.edges.map((e) => [e.start, e.end, String(e.label ?? "")]),
    };
  } catch (err) {
    return { ok: false, error: String(err && err.message ? err.message : err) };
  }
});
process.stdout.write(JSON.stringify(results));
