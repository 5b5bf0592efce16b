// The browser side of the UI server's API: JSON reads, actions (with the CSRF token the page
// was served), live event streams, and how the page reports their state.
import { el } from "./util.js";

const CSRF = document.querySelector('meta[name="zenflow-csrf"]')?.content || "";

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function errorOf(response) {
  let text = `${response.status} ${response.statusText}`;
  try {
    const doc = await response.json();
    if (doc && doc.error) text = doc.error;
  } catch (_) {
    /* not JSON: keep the status line */
  }
  return new ApiError(text, response.status);
}

export async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export async function postJSON(path, body) {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": CSRF },
    body: JSON.stringify(body || {}),
  });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// An EventSource on `path`; `handlers` maps event names to functions of the parsed data.
// The browser reconnects by itself; the server sends a fresh snapshot on each connection.
export function subscribe(path, handlers) {
  const source = new EventSource(path);
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (event) => fn(JSON.parse(event.data)));
  }
  source.addEventListener("health", (event) => showHealth(JSON.parse(event.data)));
  source.addEventListener("open", () => setServerLost(false));
  source.addEventListener("error", () => setServerLost(source.readyState !== EventSource.OPEN));
  return () => source.close();
}

let serverLost = false;
let lastHealth = { state: "ok", message: "" };

function setServerLost(lost) {
  serverLost = lost;
  renderHealth();
}

export function showHealth(health) {
  lastHealth = health || lastHealth;
  renderHealth();
}

function renderHealth() {
  const box = document.getElementById("health");
  box.replaceChildren();
  box.className = "health";
  if (serverLost) {
    box.classList.add("error");
    box.append(el("strong", { text: "Lost the connection to the zenflow ui server." }), " Reconnecting…");
  } else if (lastHealth.state === "error") {
    box.classList.add("error");
    box.append(
      el("strong", { text: "The API server did not answer as expected; retrying. " }),
      el("span.verbatim", { text: lastHealth.message }),
    );
  } else if (lastHealth.state === "connecting") {
    box.append("Connecting to the API server…");
  } else {
    box.hidden = true;
    document.body.dataset.health = "ok";
    return;
  }
  document.body.dataset.health = serverLost ? "server-lost" : lastHealth.state;
  box.hidden = false;
}

export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  const node = el(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status", text: message });
  box.append(node);
  setTimeout(() => node.remove(), kind === "error" ? 12000 : 5000);
}
