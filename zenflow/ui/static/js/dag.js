// The live DAG: an SVG of the server's layout (zenflow/ui/layout.py), one <g class="node"> per
// step and one <path class="edge"> per dependency, with pan (drag), zoom (wheel, buttons) and
// fit. Phase changes only touch the changed steps' attributes; the layout is drawn again only
// when the server sends a new one (the spec changed).
import { clip, el, phaseGlyph } from "./util.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_SHARD_MARKS = 24;
const LABEL_CHARS = 24;

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function subtitle(step) {
  const parts = [step.phase === "Waiting" ? "awaiting approval" : step.phase];
  if (step.attempt && (step.attempt > 1 || step.retryLimit)) {
    // Retries by policy count against retryLimit; a user's retry adds attempts beyond it.
    const within = step.attempt <= step.retryLimit + 1 && step.retryLimit;
    parts.push(within ? `attempt ${step.attempt}/${step.retryLimit + 1}` : `attempt ${step.attempt}`);
  }
  if (step.shards) {
    const done = step.shards.filter((s) => s.phase === "Succeeded").length;
    parts.push(`${done}/${step.shards.length} shards`);
  } else if (step.matrix && step.matrix.length) {
    parts.push(`matrix ${step.matrix.join("×")}`);
  }
  return parts.join(" · ");
}

export class DagView {
  constructor(container, { onSelect }) {
    this.container = container;
    this.onSelect = onSelect;
    this.nodes = new Map(); // step name -> <g>
    this.edgesFrom = new Map(); // step name -> [<path>]
    this.view = { x: 0, y: 0, k: 1 };
    this.layoutKey = null;
    this.selected = null;
    this.toolbar = el("div.dag-tools", null,
      el("button", { type: "button", title: "Zoom in", text: "+", onclick: () => this.zoomBy(1.25) }),
      el("button", { type: "button", title: "Zoom out", text: "−", onclick: () => this.zoomBy(0.8) }),
      el("button", { type: "button", title: "Fit the whole flow", text: "Fit", onclick: () => this.fit() }),
      el("button", { type: "button", title: "Actual size", text: "1:1", onclick: () => this.setView(16, 16, 1) }),
    );
    this.legend = el("div.dag-legend", null,
      ...["Pending", "Waiting", "Running", "Retrying", "Succeeded", "Failed", "Skipped"].map((p) =>
        el(`span.legend.phase-${p}`, null, el("span.glyph", { text: phaseGlyph(p) }), p)),
    );
    this.svg = svg("svg", { class: "dag", role: "img", "aria-label": "flow graph" });
    const defs = svg("defs", null,
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
        svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" })));
    this.viewport = svg("g", { class: "viewport" });
    this.edgeLayer = svg("g", { class: "edges" });
    this.nodeLayer = svg("g", { class: "nodes" });
    this.viewport.append(this.edgeLayer, this.nodeLayer);
    this.svg.append(defs, this.viewport);
    container.append(this.toolbar, this.legend, this.svg);
    this.bindPanZoom();
  }

  // Draw `layout` with `steps` (full list). Returns the milliseconds it took.
  render(layout, steps) {
    const started = performance.now();
    const byName = new Map(steps.map((s) => [s.name, s]));
    this.layout = layout;
    this.layoutKey = layout.key;
    this.nodes.clear();
    this.edgesFrom.clear();
    const w = layout.nodeWidth;
    const h = layout.nodeHeight;
    const pos = new Map(layout.nodes.map((n) => [n.name, n]));
    const edgeFrag = document.createDocumentFragment();
    for (const [from, to] of layout.edges) {
      const a = pos.get(from);
      const b = pos.get(to);
      const x1 = a.x + w;
      const y1 = a.y + h / 2;
      const x2 = b.x - 2;
      const y2 = b.y + h / 2;
      const dx = Math.max(24, (x2 - x1) / 2);
      const path = svg("path", {
        class: "edge", "data-from": from, "data-to": to, "marker-end": "url(#arrow)",
        d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`,
      });
      edgeFrag.append(path);
      if (!this.edgesFrom.has(from)) this.edgesFrom.set(from, []);
      this.edgesFrom.get(from).push(path);
    }
    const nodeFrag = document.createDocumentFragment();
    for (const n of layout.nodes) {
      const step = byName.get(n.name) || { name: n.name, phase: "Pending" };
      const g = this.drawNode(n, step, w, h);
      nodeFrag.append(g);
      this.nodes.set(n.name, g);
    }
    this.edgeLayer.replaceChildren(edgeFrag);
    this.nodeLayer.replaceChildren(nodeFrag);
    for (const step of steps) this.paintEdges(step);
    if (this.selected) this.select(this.selected);
    this.fit();
    return performance.now() - started;
  }

  drawNode(n, step, w, h) {
    const manual = step.type === "Manual";
    const shape = manual
      ? svg("path", { class: "box", d: `M12,0 H${w - 12} L${w},${h / 2} L${w - 12},${h} H12 L0,${h / 2} Z` })
      : svg("rect", { class: "box", width: w, height: h, rx: 8 });
    const g = svg("g", {
      class: "node", transform: `translate(${n.x},${n.y})`, tabindex: "0",
      "data-step": n.name, "data-layer": n.layer, "data-type": step.type || "Job",
    },
    svg("title"), shape,
    svg("circle", { class: "badge", cx: 22, cy: h / 2, r: 11 }),
    svg("text", { class: "glyph", x: 22, y: h / 2 + 4.5, "text-anchor": "middle" }),
    svg("text", { class: "label", x: 41, y: h / 2 - 4 }),
    svg("text", { class: "sub", x: 41, y: h / 2 + 12 }),
    svg("g", { class: "shards" }),
    svg("text", { class: "attempts", x: w - 8, y: 13, "text-anchor": "end" }));
    if (n.finally) g.classList.add("final");
    g.querySelector(".label").textContent = clip(n.name, LABEL_CHARS);
    g.addEventListener("click", () => this.onSelect(n.name));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") this.onSelect(n.name); });
    this.paint(g, step);
    return g;
  }

  paint(g, step) {
    g.setAttribute("data-phase", step.phase);
    g.setAttribute("class", `node phase-${step.phase}${g.classList.contains("final") ? " final" : ""}${g.classList.contains("selected") ? " selected" : ""}`);
    g.querySelector(".glyph").textContent = phaseGlyph(step.phase);
    g.querySelector(".sub").textContent = subtitle(step);
    g.querySelector("title").textContent =
      `${step.name} — ${step.phase}${step.reason ? ` (${step.reason})` : ""}${step.message ? `\n${step.message}` : ""}`;
    const retries = step.retryCount || (step.attempt ? step.attempt - 1 : 0);
    g.querySelector(".attempts").textContent = retries > 0 ? `↻${retries}` : "";
    const marks = g.querySelector(".shards");
    marks.replaceChildren();
    // Matrix steps carry a row of shard marks under the text, which moves up to make room.
    const h = this.layout.nodeHeight;
    g.querySelector(".label").setAttribute("y", step.shards ? h / 2 - 8 : h / 2 - 4);
    g.querySelector(".sub").setAttribute("y", step.shards ? h / 2 + 7 : h / 2 + 12);
    if (step.shards) {
      const shown = step.shards.slice(0, MAX_SHARD_MARKS);
      const w = this.layout.nodeWidth;
      const size = Math.min(7, (w - 50) / shown.length - 1);
      shown.forEach((s, i) => {
        marks.append(svg("rect", {
          class: `shard phase-${s.phase}`, x: 41 + i * (size + 1.5), y: h - size - 5,
          width: size, height: size, rx: 1.5, "data-shard": s.index,
        }));
      });
    }
  }

  paintEdges(step) {
    for (const path of this.edgesFrom.get(step.name) || []) {
      path.setAttribute("class", `edge from-${step.phase}`);
    }
  }

  // Apply changed steps (partial updates from the stream).
  update(steps) {
    for (const step of steps) {
      const g = this.nodes.get(step.name);
      if (!g) continue;
      this.paint(g, step);
      this.paintEdges(step);
    }
  }

  select(name) {
    if (this.selected) this.nodes.get(this.selected)?.classList.remove("selected");
    this.selected = name;
    const g = name ? this.nodes.get(name) : null;
    if (g) g.classList.add("selected");
  }

  // -- pan and zoom ------------------------------------------------------------------------
  setView(x, y, k) {
    this.view = { x, y, k };
    this.viewport.setAttribute("transform", `translate(${x},${y}) scale(${k})`);
    this.svg.classList.toggle("far", k < 0.45);
  }

  fit() {
    if (!this.layout) return;
    const box = this.svg.getBoundingClientRect();
    const pad = 24;
    const width = Math.max(1, this.layout.width);
    const height = Math.max(1, this.layout.height);
    let k = Math.min((box.width - 2 * pad) / width, (box.height - 2 * pad) / height, 1.2);
    if (k < 0.2) {
      // Too large to fit readably: show the flow's first step (a root, left middle) at a
      // legible size; pan and zoom from there.
      k = 0.5;
      const first = this.layout.nodes[0];
      const y = first ? first.y + this.layout.nodeHeight / 2 : 0;
      this.setView(pad, box.height / 2 - y * k, k);
      return;
    }
    this.setView((box.width - width * k) / 2, Math.max(pad, (box.height - height * k) / 2), k);
  }

  zoomBy(factor, cx, cy) {
    const box = this.svg.getBoundingClientRect();
    const px = cx ?? box.width / 2;
    const py = cy ?? box.height / 2;
    const k = Math.min(3, Math.max(0.05, this.view.k * factor));
    const ratio = k / this.view.k;
    this.setView(px - (px - this.view.x) * ratio, py - (py - this.view.y) * ratio, k);
  }

  bindPanZoom() {
    this.svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const box = this.svg.getBoundingClientRect();
      this.zoomBy(Math.exp(-e.deltaY * 0.0015), e.clientX - box.left, e.clientY - box.top);
    }, { passive: false });
    let drag = null;
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0 || e.target.closest(".node")) return;
      drag = { x: e.clientX, y: e.clientY, vx: this.view.x, vy: this.view.y };
      this.svg.setPointerCapture(e.pointerId);
      this.svg.classList.add("dragging");
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      this.setView(drag.vx + e.clientX - drag.x, drag.vy + e.clientY - drag.y, this.view.k);
    });
    const end = () => { drag = null; this.svg.classList.remove("dragging"); };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
  }
}
