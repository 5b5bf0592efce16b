// Entry point: reads the server's config, then routes #/, #/flows/NS/NAME[/steps/STEP] and
// #/cron to their pages. A page owns its event stream and is disposed when the route leaves it.
import { getJSON, showHealth } from "./api.js";
import { CronPage } from "./cron.js";
import { FlowPage } from "./flow.js";
import { ListPage } from "./list.js";
import { setupRunDialog } from "./run.js";
import { el } from "./util.js";

const main = document.getElementById("main");
let page = null;
let pageKey = null;
let config = null;

function parse(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "flows" && parts.length >= 3) {
    return { kind: "flow", key: `flow:${parts[1]}/${parts[2]}`, namespace: parts[1], name: parts[2], step: parts[3] === "steps" ? parts[4] : null };
  }
  if (parts[0] === "cron") return { kind: "cron", key: "cron" };
  return { kind: "list", key: "list" };
}

function route() {
  const r = parse(location.hash);
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === (r.kind === "cron" ? "cron" : "flows"));
  }
  if (page && pageKey === r.key) {
    if (r.kind === "flow") page.route(r.step);
    return;
  }
  if (page) page.dispose();
  main.replaceChildren();
  document.body.dataset.page = r.kind;
  delete document.body.dataset.rendered;
  pageKey = r.key;
  if (r.kind === "flow") {
    page = new FlowPage(main, config, r.namespace, r.name);
    page.route(r.step);
    document.title = `${r.name} · zenflow`;
  } else if (r.kind === "cron") {
    page = new CronPage(main, config);
    document.title = "Schedules · zenflow";
  } else {
    page = new ListPage(main, config);
    document.title = "JobFlows · zenflow";
  }
}

async function start() {
  try {
    config = await getJSON("/api/config");
  } catch (err) {
    main.append(el("pre.refusal", { text: `The zenflow ui server did not answer: ${err.message}` }));
    return;
  }
  document.getElementById("scope").textContent = config.allNamespaces ? "all namespaces" : `namespace ${config.namespace}`;
  document.getElementById("readonly").hidden = config.actions;
  showHealth(config.health);
  setupRunDialog(config);
  window.addEventListener("hashchange", route);
  route();
}

start();
