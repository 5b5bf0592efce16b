// The step panel: what the status says of one step (phase, reason, attempts, timings, outputs,
// shards, approver), its Jobs (one per attempt, read as the user), its actions (approve,
// reject with a reason, retry from here) and its log, streamed through the API server's pod log API.
import { getJSON } from "./api.js";
import { durationCell, el, fill, phasePill, relTime } from "./util.js";

const FINISHED = new Set(["Succeeded", "Failed"]);

function field(label, value) {
  if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) return [];
  return [el("dt", { text: label }), el("dd", null, value instanceof Node ? value : String(value))];
}

export class StepPanel {
  constructor(config, namespace, flow, { act, close }) {
    this.config = config;
    this.namespace = namespace;
    this.flow = flow;
    this.act = act;
    this.closePanel = close;
    this.node = el("aside.step-panel", { hidden: true });
    this.name = null;
    this.jobsFor = null;
    this.log = null;
  }

  dispose() {
    this.stopLog();
  }

  show(step, summary) {
    if (!step) {
      this.name = null;
      this.node.hidden = true;
      this.stopLog();
      return;
    }
    const changedStep = step.name !== this.name || step.type !== this.type;
    const attemptKey = `${step.name}/${step.attempt}/${step.phase}`;
    this.name = step.name;
    this.type = step.type;
    this.node.hidden = false;
    if (changedStep) {
      this.stopLog();
      this.jobsBox = el("div.jobs", null, el("p.hint", { text: "Loading Jobs…" }));
      this.logBox = el("div.log-box");
      this.info = el("div.step-info");
      // A manual gate runs no Job: no attempts, no log.
      const runs = step.type !== "Manual";
      fill(this.node,
        el("div.panel-head", null, el("h2", { text: step.name }), el("button.close", { type: "button", title: "Close", text: "×", onclick: () => this.closePanel() })),
        this.info,
        runs ? [el("h3", { text: "Attempts" }), this.jobsBox, el("h3", { text: "Log" }), this.logBox] : null);
    }
    this.renderInfo(step, summary);
    if (step.type !== "Manual" && (changedStep || this.jobsFor !== attemptKey)) {
      this.jobsFor = attemptKey;
      this.loadJobs(step);
    }
  }

  // A rejection must say why: ask, and send nothing if the user cancels or gives no reason.
  reject(name) {
    const reason = window.prompt(`Reject step ${name}: why?`, "");
    if (reason === null || !reason.trim()) return;
    this.act("reject", { step: name, reason: reason.trim() });
  }

  renderInfo(step, summary) {
    const actions = el("div.actions");
    if (this.config.actions && step.phase === "Waiting") {
      actions.append(el("button.primary", { type: "button", text: "Approve", dataset: { action: "approve" }, title: "Approve in your own name (recorded as the API server knows you)", onclick: () => this.act("approve", { step: step.name }) }));
      actions.append(el("button.danger", { type: "button", text: "Reject", dataset: { action: "reject" }, title: "Reject in your own name, saying why", onclick: () => this.reject(step.name) }));
    }
    if (this.config.actions && summary && FINISHED.has(summary.phase) && step.type !== "Manual") {
      actions.append(el("button", { type: "button", text: "Retry from this step", dataset: { action: "retry-step" }, title: "Re-run this step and its dependents", onclick: () => this.act("retry", { step: step.name }) }));
    }
    const outputs = step.outputs ? el("table.grid.compact", null, el("tbody", null,
      Object.entries(step.outputs).map(([k, v]) => el("tr", null, el("td", { text: k }), el("td.mono", { text: v }))))) : null;
    const shards = step.shards ? el("div.shard-list", null, step.shards.map((s) =>
      el("span", { title: s.message || s.jobRef || "" }, phasePill(s.phase), ` #${s.index}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ""}`))) : null;
    fill(this.info,
      el("div.title-row", null, phasePill(step.phase, step.reason), step.type === "Manual" ? el("span.tag", { text: "manual gate" }) : null, el("span.spacer"), actions),
      step.gate && step.phase === "Waiting" ? el("p.gate", { text: step.gate }) : null,
      el("dl.facts", null,
        ...field("Reason", step.reason),
        ...field("Message", step.message && step.message !== step.gate ? el("span.verbatim", { text: step.message }) : null),
        ...field("Attempt", step.attempt || null),
        ...field("Retry limit", step.retryLimit ? `${step.retryLimit} (retryPolicy)` : null),
        ...field("Retries", step.retryCount || null),
        ...field("Next retry", step.nextRetryTime ? relTime(step.nextRetryTime) : null),
        ...field("Started", step.startTime ? relTime(step.startTime) : null),
        ...field("Finished", step.completionTime ? relTime(step.completionTime) : null),
        ...field("Duration", step.startTime ? durationCell(step.startTime, step.completionTime) : null),
        ...field("Job", step.jobRef),
        ...field("Approved by", step.approvedBy),
        ...field("Depends on", step.dependencies && step.dependencies.join(", ")),
        ...field("When", step.when),
        ...field("Image", step.image),
        ...field("Timeout", step.timeoutSeconds ? `${step.timeoutSeconds}s per attempt` : null),
        ...field("Continue on failure", step.continueOnFailure ? "yes" : null),
        ...field("Matrix", step.matrix && step.matrix.length ? step.matrix.join(" × ") : null),
      ),
      outputs ? el("h3", { text: "Outputs" }) : null, outputs,
      shards ? el("h3", { text: "Shards" }) : null, shards,
    );
  }

  async loadJobs(step) {
    const name = step.name;
    let jobs;
    try {
      const doc = await getJSON(`/api/flows/${encodeURIComponent(this.namespace)}/${encodeURIComponent(this.flow)}/steps/${encodeURIComponent(name)}/jobs`);
      jobs = doc.jobs;
    } catch (err) {
      if (this.name === name) fill(this.jobsBox, el("pre.refusal", { text: err.message }));
      return;
    }
    if (this.name !== name) return;
    if (!jobs.length) {
      fill(this.jobsBox, el("p.hint", { text: step.type === "Manual" ? "A manual gate runs no Job." : "No Job yet." }));
      if (!this.log) fill(this.logBox, el("p.hint", { text: "No log yet." }));
      return;
    }
    const rows = jobs.map((j) => el("tr", { dataset: { job: j.name } },
      el("td.num", { text: j.attempt || "" }), el("td.mono", { text: j.shard ? `${j.name} (shard ${j.shard})` : j.name }),
      el("td", { title: j.started ? `started ${j.started}` : "" }, durationCell(j.started, j.finished)),
      el("td", null, j.condition ? phasePill(j.condition === "Complete" ? "Succeeded" : "Failed", j.message || j.reason) : phasePill(j.active ? "Running" : "Pending")),
      el("td", null, el("button.link", { type: "button", text: "log", onclick: () => this.openLog(j.name) }))));
    fill(this.jobsBox, el("table.grid.compact", null,
      el("thead", null, el("tr", null, ...["#", "Job", "Took", "Result", ""].map((h) => el("th", { text: h })))),
      el("tbody", null, rows)));
    const current = jobs.find((j) => j.name === step.jobRef) || jobs[0];
    if (!this.log || this.log.job !== current.name) this.openLog(current.name);
  }

  stopLog() {
    if (this.log) this.log.abort.abort();
    this.log = null;
  }

  async openLog(job) {
    this.stopLog();
    const abort = new AbortController();
    const log = { job, abort };
    this.log = log;
    const follow = el("input", { type: "checkbox", checked: true });
    const pre = el("pre.log", { dataset: { job } });
    const status = el("span.hint", { text: "loading…" });
    fill(this.logBox,
      el("div.log-tools", null, el("span.mono", { text: job }), el("label", null, follow, " follow"), status),
      pre);
    follow.addEventListener("change", () => { if (follow.checked) this.openLog(job); else abort.abort(); });
    const url = `/api/flows/${encodeURIComponent(this.namespace)}/${encodeURIComponent(this.flow)}/steps/${encodeURIComponent(this.name)}/log?job=${encodeURIComponent(job)}&follow=1`;
    try {
      const response = await fetch(url, { signal: abort.signal, credentials: "same-origin" });
      if (!response.ok) {
        let message = `${response.status} ${response.statusText}`;
        try { message = (await response.json()).error || message; } catch (_) { /* keep */ }
        pre.classList.add("refusal");
        pre.textContent = message;
        status.textContent = "the API server's answer:";
        return;
      }
      status.textContent = `pod ${response.headers.get("X-Zenflow-Pod") || ""}`;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.append(decoder.decode(value, { stream: true }));
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
      if (this.log === log) status.textContent += " · ended";
    } catch (err) {
      if (err.name !== "AbortError") status.textContent = `log stream failed: ${err.message}`;
    }
  }
}
