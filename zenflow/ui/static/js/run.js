// "Run a flow…": paste or load a JobFlow manifest, fill its params, create it as the user.
import { postJSON, toast } from "./api.js";
import { el, fill, flowHref } from "./util.js";

export function setupRunDialog(config) {
  const dialog = document.getElementById("run-dialog");
  const yamlBox = document.getElementById("run-yaml");
  const file = document.getElementById("run-file");
  const namespace = document.getElementById("run-namespace");
  const name = document.getElementById("run-name");
  const paramsBox = document.getElementById("run-params");
  const error = document.getElementById("run-error");
  const open = document.getElementById("run-open");
  let inputs = new Map();
  let timer = 0;

  open.hidden = !config.actions;
  namespace.value = config.namespace || "default";
  namespace.disabled = !config.allNamespaces;
  open.addEventListener("click", () => { error.hidden = true; dialog.showModal(); });
  document.getElementById("run-cancel").addEventListener("click", () => dialog.close());

  async function readParams() {
    if (!yamlBox.value.trim()) return;
    try {
      const doc = await postJSON("/api/run/params", { yaml: yamlBox.value });
      error.hidden = true;
      if (doc.namespace && config.allNamespaces) namespace.value = doc.namespace;
      name.placeholder = doc.name || (doc.generateName ? `${doc.generateName}…` : "from the manifest");
      const kept = new Map([...inputs].map(([k, input]) => [k, input.value]));
      inputs = new Map();
      fill(paramsBox, el("legend", { text: "Params" }));
      if (!doc.params.length) paramsBox.append(el("p.hint", { text: "none declared" }));
      for (const p of doc.params) {
        const input = p.enum
          ? el("select", null, p.enum.map((v) => el("option", { value: v, text: v })))
          : el("input", { placeholder: p.default === null || p.default === undefined ? "" : String(p.default) });
        input.dataset.param = p.name;
        if (kept.has(p.name)) input.value = kept.get(p.name);
        else if (p.enum && p.default !== null && p.default !== undefined) input.value = String(p.default);
        inputs.set(p.name, input);
        paramsBox.append(el("label", null, `${p.name}${p.required ? " *" : ""}`, input, p.description ? el("span.hint", { text: p.description }) : null));
      }
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  }

  yamlBox.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(readParams, 300); });
  file.addEventListener("change", async () => {
    if (!file.files.length) return;
    yamlBox.value = await file.files[0].text();
    readParams();
  });
  document.getElementById("run-submit").addEventListener("click", async () => {
    error.hidden = true;
    const params = Object.fromEntries([...inputs].map(([k, input]) => [k, input.value]).filter(([, v]) => v !== ""));
    try {
      const done = await postJSON("/api/run", { yaml: yamlBox.value, params, namespace: namespace.value, name: name.value.trim() || null });
      toast(done.message, "ok");
      dialog.close();
      location.hash = flowHref(done.namespace, done.name);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
}
