// Schedules: each CronJobFlow with its schedule, next run, last runs (live).
import { subscribe } from "./api.js";
import { absolute, clear, el, flowHref, phasePill, relTime, tickTimes } from "./util.js";

export class CronPage {
  constructor(root) {
    this.root = root;
    this.list = el("div.crons");
    root.append(el("div.toolbar", null, el("h1", { text: "Schedules (CronJobFlows)" })), this.list);
    this.close = subscribe("/api/events/cronjobflows", { crons: (data) => this.render(data.crons) });
    this.clock = setInterval(() => tickTimes(this.root), 1000);
  }

  dispose() {
    this.close();
    clearInterval(this.clock);
  }

  render(crons) {
    clear(this.list);
    if (!crons.length) {
      this.list.append(el("p.empty", { text: "No CronJobFlows here." }));
      return;
    }
    for (const c of crons) {
      const runs = c.runs.map((r) => el("li", { dataset: { flow: `${r.namespace}/${r.name}` } },
        phasePill(r.phase), " ", el("a", { href: flowHref(r.namespace, r.name), text: r.name }), " ", el("span.hint", null, relTime(r.created))));
      this.list.append(el("section.cron-card", { dataset: { cron: `${c.namespace}/${c.name}` } },
        el("div.title-row", null, el("h2", { text: c.name }), el("span.hint", { text: c.namespace }), c.suspend ? el("span.pill.phase-Suspended", { text: "suspended" }) : null),
        el("dl.facts", null,
          el("dt", { text: "Schedule" }), el("dd.mono", { text: `${c.schedule}  (${c.timeZone})` }),
          el("dt", { text: "Next run" }), el("dd.next", null, c.nextSchedule ? [relTime(c.nextSchedule), el("span.hint", { text: ` · ${absolute(c.nextSchedule)}` })] : (c.suspend ? "– (suspended)" : "–")),
          el("dt", { text: "Last scheduled" }), el("dd", null, c.lastScheduleTime ? relTime(c.lastScheduleTime) : "never"),
          el("dt", { text: "Last success" }), el("dd", null, c.lastSuccessfulTime ? relTime(c.lastSuccessfulTime) : "–"),
          el("dt", { text: "Concurrency" }), el("dd", { text: c.concurrencyPolicy }),
          el("dt", { text: "Active" }), el("dd", { text: c.active.length ? c.active.join(", ") : "none" }),
        ),
        c.problem ? el("pre.refusal", { text: c.problem }) : null,
        el("h3", { text: `Runs (${c.runCount})` }),
        runs.length ? el("ul.runs", null, runs) : el("p.hint", { text: "No run yet." })));
    }
  }
}
