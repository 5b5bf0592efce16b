// The flow list: every JobFlow in the UI's scope, newest first, updated live from the
// /api/events/flows stream; filters by namespace, phase and name search run in the browser.
import { subscribe } from "./api.js";
import {
  clear, clip, durationCell, el, fill, flowHref, phasePill, progressBar, relTime, tickTimes,
} from "./util.js";

const PHASE_FILTERS = ["All phases", "Running", "Pending", "Waiting for approval", "Suspended", "Succeeded", "Failed"];

export class ListPage {
  constructor(root, config) {
    this.root = root;
    this.config = config;
    this.flows = new Map(); // "ns/name" -> summary
    this.rows = new Map(); // "ns/name" -> <tr>
    this.frame = 0;
    this.search = el("input.search", { type: "search", placeholder: "Search by name…", oninput: () => this.schedule() });
    this.phase = el("select.phase-filter", { onchange: () => this.schedule() }, PHASE_FILTERS.map((p) => el("option", { value: p, text: p })));
    this.nsFilter = el("select.ns-filter", { hidden: !config.allNamespaces, onchange: () => this.schedule() });
    this.count = el("span.count");
    this.body = el("tbody");
    this.empty = el("p.empty", { hidden: true });
    root.append(
      el("div.toolbar", null, el("h1", { text: "JobFlows" }), this.nsFilter, this.phase, this.search, el("span.spacer"), this.count),
      el("table.grid.flows", null,
        el("thead", null, el("tr", null, ...["Name", config.allNamespaces ? "Namespace" : null, "Phase", "Progress", "Started", "Duration", "Message"].filter(Boolean).map((h) => el("th", { text: h })))),
        this.body),
      this.empty);
    this.close = subscribe("/api/events/flows", {
      snapshot: (data) => { this.flows = new Map(data.flows.map((f) => [`${f.namespace}/${f.name}`, f])); this.rows.clear(); this.schedule(); },
      upsert: (f) => { this.flows.set(`${f.namespace}/${f.name}`, f); this.rows.delete(`${f.namespace}/${f.name}`); this.schedule(); },
      delete: (f) => { this.flows.delete(`${f.namespace}/${f.name}`); this.rows.delete(`${f.namespace}/${f.name}`); this.schedule(); },
    });
    this.clock = setInterval(() => tickTimes(this.body), 1000);
  }

  dispose() {
    this.close();
    clearInterval(this.clock);
    cancelAnimationFrame(this.frame);
  }

  // Coalesce bursts of updates into one redraw per animation frame.
  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  matches(f) {
    const phase = this.phase.value;
    if (phase === "Waiting for approval" ? !f.waiting : phase !== "All phases" && f.phase !== phase) return false;
    if (this.config.allNamespaces && this.nsFilter.value && f.namespace !== this.nsFilter.value) return false;
    const text = this.search.value.trim().toLowerCase();
    return !text || f.name.toLowerCase().includes(text);
  }

  row(f) {
    const key = `${f.namespace}/${f.name}`;
    let tr = this.rows.get(key);
    if (tr) return tr;
    tr = el("tr", { dataset: { flow: key, phase: f.phase } },
      el("td", null, el("a", { href: flowHref(f.namespace, f.name), text: f.name }), f.cron ? el("span.tag", { text: "scheduled", title: `created by CronJobFlow ${f.cron}` }) : null, f.waiting ? el("span.tag.waiting", { text: "needs approval" }) : null),
      this.config.allNamespaces ? el("td", { text: f.namespace }) : null,
      el("td", null, phasePill(f.phase, f.reason)),
      el("td", null, progressBar(f)),
      el("td", null, relTime(f.started || f.created)),
      el("td", null, durationCell(f.started, f.finished)),
      el("td.msg", { title: f.message || "", text: clip(f.message || "", 90) }));
    this.rows.set(key, tr);
    return tr;
  }

  render() {
    const namespaces = [...new Set([...this.flows.values()].map((f) => f.namespace))].sort();
    if (this.config.allNamespaces) {
      const chosen = this.nsFilter.value;
      fill(this.nsFilter, el("option", { value: "", text: "All namespaces" }), ...namespaces.map((n) => el("option", { value: n, text: n })));
      this.nsFilter.value = namespaces.includes(chosen) ? chosen : "";
    }
    const shown = [...this.flows.values()].filter((f) => this.matches(f));
    shown.sort((a, b) => (b.created || "").localeCompare(a.created || "") || a.name.localeCompare(b.name));
    this.body.replaceChildren(...shown.map((f) => this.row(f)));
    this.count.textContent = `${shown.length} of ${this.flows.size} flows`;
    this.empty.hidden = shown.length > 0;
    this.empty.textContent = this.flows.size ? "No flow matches the filters." : "No JobFlows here yet. Create one with kubectl, or “Run a flow…”.";
    document.body.dataset.flows = String(this.flows.size);
  }
}
