// Small DOM and formatting helpers shared by every page. Text always goes in through
// textContent (never innerHTML), so nothing a flow's author writes can become markup.

export const PHASES = {
  Pending: { glyph: "○", label: "Pending" },
  Waiting: { glyph: "‖", label: "Waiting for approval" },
  Running: { glyph: "▶", label: "Running" },
  Retrying: { glyph: "↻", label: "Retrying" },
  Succeeded: { glyph: "✓", label: "Succeeded" },
  Failed: { glyph: "✗", label: "Failed" },
  Skipped: { glyph: "↷", label: "Skipped" },
  Suspended: { glyph: "‖", label: "Suspended" },
};

export function phaseGlyph(phase) {
  return (PHASES[phase] || { glyph: "?" }).glyph;
}

// el("div.card.big#id", {dataset: {x: 1}, onclick: f}, child, "text", ...)
export function el(spec, props, ...children) {
  const [head, id] = spec.split("#");
  const [tag, ...classes] = head.split(".");
  const node = document.createElement(tag || "div");
  if (classes.length) node.className = classes.join(" ");
  if (id) node.id = id;
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else if (key in node && key !== "list") node[key] = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function phasePill(phase, extra) {
  return el(`span.pill.phase-${phase || "Pending"}`, { title: extra || undefined },
    el("span.glyph", { text: phaseGlyph(phase) }), " ", phase || "Pending");
}

export function parseTime(text) {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : t;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

export function span(startText, endText, now = Date.now()) {
  const start = parseTime(startText);
  if (start === null) return null;
  const end = parseTime(endText) ?? now;
  return Math.max(0, (end - start) / 1000);
}

export function ago(text, now = Date.now()) {
  const t = parseTime(text);
  if (t === null) return "–";
  const secs = (now - t) / 1000;
  return secs >= 0 ? `${duration(secs)} ago` : `in ${duration(-secs)}`;
}

export function absolute(text) {
  const t = parseTime(text);
  return t === null ? "" : new Date(t).toLocaleString();
}

export function clip(text, max) {
  if (!text) return "";
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

// A <time> whose text is kept relative by the page's 1 s clock (see tickTimes).
export function relTime(text) {
  return el("time.rel", { dateTime: text || "", title: absolute(text), text: ago(text) });
}

export function tickTimes(root) {
  const now = Date.now();
  for (const node of root.querySelectorAll("time.rel")) {
    if (node.dateTime) node.textContent = ago(node.dateTime, now);
  }
  for (const node of root.querySelectorAll("[data-since]")) {
    node.textContent = duration(span(node.dataset.since, node.dataset.until || null, now));
  }
}

export function durationCell(start, end) {
  const node = el("span.dur", { text: duration(span(start, end)) });
  if (start) node.dataset.since = start;
  if (end) node.dataset.until = end;
  return node;
}

export function progressBar(summary) {
  const total = Math.max(1, summary.total || 0);
  const bar = el("span.progress", { title: summary.progress });
  const parts = [
    ["ok", summary.succeeded || 0],
    ["bad", summary.failed || 0],
    ["skip", Math.max(0, (summary.completed || 0) - (summary.succeeded || 0) - (summary.failed || 0))],
    ["run", summary.running || 0],
  ];
  for (const [cls, n] of parts) {
    if (!n) continue;
    const part = el(`span.part.${cls}`);
    part.style.width = `${(100 * n) / total}%`;
    bar.append(part);
  }
  return el("span.progress-cell", null, bar, el("span.progress-text", { text: summary.progress }));
}

export function flowHref(namespace, name, step) {
  const base = `#/flows/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
  return step ? `${base}/steps/${encodeURIComponent(step)}` : base;
}

// Replace `node`'s children (null/false children are skipped, unlike Node.append).
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
