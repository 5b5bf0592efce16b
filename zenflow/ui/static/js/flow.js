// The flow page: header with phase, progress and actions; the live DAG and the step table
// (tabs); the selected step's details and log in a side panel. Fed by one event stream.
import { postJSON, subscribe, toast } from "./api.js";
import { DagView } from "./dag.js";
import { StepPanel } from "./step.js";
import {
  clip, durationCell, el, fill, flowHref, phasePill, progressBar, relTime, tickTimes,
} from "./util.js";

const FINISHED = new Set(["Succeeded", "Failed"]);

// A button that asks for a second click before a destructive action.
function confirmButton(label, confirmLabel, action, cls = "") {
  const button = el(`button${cls}`, { type: "button", text: label });
  let armed = null;
  button.addEventListener("click", () => {
    if (!armed) {
      button.textContent = confirmLabel;
      button.classList.add("armed");
      armed = setTimeout(() => { armed = null; button.textContent = label; button.classList.remove("armed"); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.textContent = label;
    button.classList.remove("armed");
    action();
  });
  return button;
}

export class FlowPage {
  constructor(root, config, namespace, name) {
    this.root = root;
    this.config = config;
    this.namespace = namespace;
    this.name = name;
    this.steps = new Map();
    this.summary = null;
    this.tab = "graph";
    this.header = el("section.flow-header");
    this.refusal = el("pre.refusal#refusal", { role: "alert", hidden: true });
    this.tabs = el("div.tabs", null,
      el("button.tab.active", { type: "button", dataset: { tab: "graph" }, text: "Graph", onclick: () => this.showTab("graph") }),
      el("button.tab", { type: "button", dataset: { tab: "steps" }, text: "Steps", onclick: () => this.showTab("steps") }),
      el("button.tab", { type: "button", dataset: { tab: "details" }, text: "Params & conditions", onclick: () => this.showTab("details") }),
    );
    this.graphBox = el("div.graph-box");
    this.tableBox = el("div.table-box", { hidden: true });
    this.detailsBox = el("div.details-box", { hidden: true });
    this.panel = new StepPanel(config, namespace, name, {
      act: (verb, body) => this.act(verb, body),
      close: () => { location.hash = flowHref(namespace, name); },
    });
    const body = el("div.flow-body", null,
      el("div.flow-main", null, this.tabs, this.graphBox, this.tableBox, this.detailsBox),
      this.panel.node);
    root.append(el("div.crumbs", null, el("a", { href: "#/", text: "Flows" }), " / ", `${namespace} / `, el("strong", { text: name })),
      this.header, this.refusal, body);
    this.dag = new DagView(this.graphBox, { onSelect: (step) => { location.hash = flowHref(namespace, name, step); } });
    this.close = subscribe(`/api/events/flows/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`, {
      flow: (data) => this.onFlow(data),
      delete: () => this.onDeleted(),
    });
    this.clock = setInterval(() => tickTimes(this.root), 1000);
  }

  dispose() {
    this.close();
    clearInterval(this.clock);
    this.panel.dispose();
  }

  route(step) {
    this.selectedStep = step || null;
    this.dag.select(this.selectedStep);
    const wasOpen = !this.panel.node.hidden;
    this.panel.show(this.selectedStep ? this.steps.get(this.selectedStep) || { name: this.selectedStep } : null, this.summary);
    if (wasOpen !== !this.panel.node.hidden) this.dag.fit(); // the graph's width changed
    for (const row of this.tableBox.querySelectorAll("tr[data-step]")) {
      row.classList.toggle("selected", row.dataset.step === this.selectedStep);
    }
  }

  onFlow(data) {
    this.summary = data.summary;
    this.params = data.params;
    this.conditions = data.conditions;
    for (const step of data.steps) this.steps.set(step.name, step);
    if (data.full) {
      this.steps = new Map(data.steps.map((s) => [s.name, s]));
      const ms = this.dag.render(data.layout, data.steps);
      document.body.dataset.renderMs = ms.toFixed(1);
      // Milliseconds since this document's navigation started (for benchmarks/ui_bench.py).
      document.body.dataset.renderedAt = performance.now().toFixed(1);
      document.body.dataset.rendered = `${this.namespace}/${this.name}`;
    } else {
      this.dag.update(data.steps);
    }
    this.renderHeader();
    this.renderTable();
    this.renderDetails();
    if (this.selectedStep) this.panel.show(this.steps.get(this.selectedStep), this.summary);
    else this.dag.select(null);
  }

  onDeleted() {
    fill(this.header, el("h1", { text: this.name }), el("p.gone", { text: "This JobFlow was deleted (or is outside this UI's namespaces)." }));
    document.body.dataset.rendered = "deleted";
  }

  showTab(tab) {
    this.tab = tab;
    for (const b of this.tabs.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
    this.graphBox.hidden = tab !== "graph";
    this.tableBox.hidden = tab !== "steps";
    this.detailsBox.hidden = tab !== "details";
    if (tab === "graph") this.dag.fit();
  }

  async act(verb, body = {}) {
    this.refusal.hidden = true;
    try {
      const done = await postJSON(`/api/flows/${encodeURIComponent(this.namespace)}/${encodeURIComponent(this.name)}/${verb}`, body);
      toast(done.message, "ok");
      return true;
    } catch (err) {
      this.refusal.textContent = `${verb} refused: ${err.message}`;
      this.refusal.hidden = false;
      toast(`${verb} refused by the API server`, "error");
      return false;
    }
  }

  renderHeader() {
    const s = this.summary;
    const actions = el("div.actions");
    if (this.config.actions) {
      if (!FINISHED.has(s.phase)) {
        actions.append(s.suspend
          ? el("button", { type: "button", text: "Resume", dataset: { action: "resume" }, onclick: () => this.act("resume") })
          : el("button", { type: "button", text: "Suspend", dataset: { action: "suspend" }, onclick: () => this.act("suspend") }));
        const cancel = confirmButton("Cancel flow", "Click again to cancel", () => this.act("cancel"), ".danger");
        cancel.dataset.action = "cancel";
        actions.append(cancel);
      } else if (s.phase === "Failed") {
        actions.append(el("button.primary", {
          type: "button", text: "Retry failed steps", dataset: { action: "retry" },
          title: "Re-run the failed and skipped steps, keeping the successful ones", onclick: () => this.act("retry"),
        }));
      }
    }
    const facts = el("dl.facts", null,
      el("dt", { text: "Progress" }), el("dd", null, progressBar(s)),
      el("dt", { text: "Started" }), el("dd", null, s.started ? relTime(s.started) : "–"),
      el("dt", { text: "Duration" }), el("dd", null, durationCell(s.started, s.finished)),
      el("dt", { text: "Created" }), el("dd", null, relTime(s.created)),
    );
    if (s.cron) facts.append(el("dt", { text: "Schedule" }), el("dd", null, el("a", { href: "#/cron", text: s.cron })));
    if (s.waiting) facts.append(el("dt", { text: "Approval" }), el("dd.waiting-note", { text: `${s.waiting} step(s) waiting` }));
    fill(this.header,
      el("div.title-row", null, el("h1", { text: s.name }), phasePill(s.phase, s.reason), s.suspend ? el("span.pill.phase-Suspended", { text: "suspend requested" }) : null, el("span.spacer"), actions),
      facts,
      s.message ? el("p.flow-message", { text: `${s.reason ? `${s.reason}: ` : ""}${s.message}` }) : null,
    );
    this.header.dataset.phase = s.phase;
  }

  renderTable() {
    const rows = [...this.steps.values()].map((st) => el("tr", {
      dataset: { step: st.name, phase: st.phase }, className: st.name === this.selectedStep ? "selected" : "",
      onclick: () => { location.hash = flowHref(this.namespace, this.name, st.name); },
    },
    el("td", null, el("a", { href: flowHref(this.namespace, this.name, st.name), text: st.name }), st.finally ? el("span.tag", { text: "finally" }) : null, st.type === "Manual" ? el("span.tag", { text: "manual" }) : null),
    el("td", null, phasePill(st.phase, st.reason)),
    el("td.num", { text: st.attempt ? `${st.attempt}${st.retryLimit ? `/${st.retryLimit + 1}` : ""}` : "–" }),
    el("td", null, st.startTime ? relTime(st.startTime) : "–"),
    el("td", null, durationCell(st.startTime, st.completionTime)),
    el("td.msg", { title: st.message || "", text: clip(st.message || st.reason || "", 120) })));
    fill(this.tableBox, el("table.grid.steps", null,
      el("thead", null, el("tr", null, ...["Step", "Phase", "Attempt", "Started", "Duration", "Message"].map((h) => el("th", { text: h })))),
      el("tbody", null, rows)));
  }

  renderDetails() {
    const params = (this.params || []).map((p) => el("tr", null, el("td", { text: p.name }), el("td.mono", { text: p.value === null || p.value === undefined ? "" : String(p.value) }), el("td", { text: p.description || "" })));
    const conds = (this.conditions || []).map((c) => el("tr", null, el("td", { text: c.type }), el("td", { text: c.status }), el("td", { text: c.reason || "" }), el("td", { text: c.message || "" }), el("td", null, relTime(c.lastTransitionTime))));
    fill(this.detailsBox,
      el("h3", { text: "Params" }),
      params.length ? el("table.grid", null, el("thead", null, el("tr", null, el("th", { text: "Name" }), el("th", { text: "Value" }), el("th", { text: "Description" }))), el("tbody", null, params)) : el("p.hint", { text: "No params." }),
      el("h3", { text: "Conditions" }),
      conds.length ? el("table.grid", null, el("thead", null, el("tr", null, ...["Type", "Status", "Reason", "Message", "Since"].map((h) => el("th", { text: h })))), el("tbody", null, conds)) : el("p.hint", { text: "None yet." }),
    );
  }
}
