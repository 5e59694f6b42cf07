// The records page: import spreadsheets (preview first), and see, add and edit carers and
// clients. A client's own page (client.js) has their packages and recent carers.
import { apiKey, h, plural, say, toLogin } from "./api.js";
import { DAYS, allRecords, clientForm, editor, packageForm, saveRecord, workerForm } from "./forms.js";

const $ = (id) => document.getElementById(id);
let previewed = null; // the files the last successful preview was of
let workers = []; // the agency's, to choose a client's coordinator and carers by name

async function upload(file, dryRun) {
  const params = new URLSearchParams({ filename: file.name, dry_run: String(dryRun) });
  const response = await fetch(`/v1/imports?${params}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${apiKey()}`, "Content-Type": "application/octet-stream" },
    body: await file.arrayBuffer(),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const info = (data && data.error) || {};
    const lines = (info.details || []).map((d) => {
      const [name, row, column] = d.loc.split(":");
      return `${name}${row && row !== "0" ? `, row ${row}` : ""}${column ? `, column ${column}` : ""}: ${d.message}`;
    });
    throw new Error(lines.length ? lines.join("\n") : info.message || `the service answered ${response.status}`);
  }
  return data;
}

function reportNode(reports, dryRun) {
  const sum = (key) => reports.reduce((n, r) => n + (Array.isArray(r[key]) ? r[key].length : r[key]), 0);
  const label = (c) => `${c.name || c.id} (${c.kind})`;
  const lines = (title, key) => {
    const items = reports.flatMap((r) => r[key]);
    if (!items.length) return null;
    return h("details", { open: items.length <= 20 }, h("summary", { text: `${title}: ${items.length}` }),
      h("ul", { class: "plain" }, ...items.slice(0, 500).map((c) => h("li", { text: label(c) }))));
  };
  const verb = dryRun ? "Would add" : "Added";
  return h("div", { class: dryRun ? "banner banner-ok" : "banner banner-ok", id: dryRun ? "preview-summary" : "import-summary" },
    h("p", { text: `${verb} ${sum("added")}, ${dryRun ? "change" : "changed"} ${sum("changed")}, ${dryRun ? "remove" : "removed"} ${sum("removed")}; `
      + `${sum("unchanged")} unchanged; ${plural(sum("history_added"), "past visit")} ${dryRun ? "to add" : "added"}.` }),
    lines(dryRun ? "To add" : "Added", "added"), lines(dryRun ? "To change" : "Changed", "changed"),
    lines(dryRun ? "To remove" : "Removed", "removed"));
}

async function runImport(dryRun) {
  const files = [...$("import-file").files];
  say($("import-error"), "");
  $("import-report").hidden = true;
  if (!files.length) return;
  $("preview").disabled = true;
  $("import").disabled = true;
  try {
    const reports = [];
    // Workbooks first; CSV files in the order their references need: carers, clients, packages.
    const order = ["xlsx", "carers", "clients", "packages", "history"];
    const rank = (f) => order.findIndex((k) => f.name.toLowerCase().includes(k));
    for (const file of files.sort((a, b) => rank(a) - rank(b))) reports.push(await upload(file, dryRun));
    $("import-report").replaceChildren(reportNode(reports, dryRun));
    $("import-report").hidden = false;
    previewed = dryRun ? files : null;
    $("import").disabled = !dryRun;
    if (!dryRun) await loadAll();
  } catch (error) {
    say($("import-error"), error.message);
  } finally {
    $("preview").disabled = false;
  }
}

const daysOf = (worker) => DAYS.filter((d) => (worker.availability || []).some((a) => a.day === d)).join(" ");

function awayText(worker) {
  return (worker.away || []).map((a) => `${a.reason} ${a.start} to ${a.end}`).join("; ");
}

function openEditor(title, form, onSave) {
  const slot = $("editor-slot");
  const node = editor(title, form, async (body) => {
    await onSave(body);
    slot.replaceChildren();
    await loadAll();
  });
  const close = h("button", { type: "button", class: "quiet", text: "Close", onclick: () => slot.replaceChildren() });
  node.querySelector("h2").after(close);
  slot.replaceChildren(node);
  node.scrollIntoView({ block: "start" });
  node.querySelector("input:not([readonly])")?.focus();
}

function editWorker(worker) {
  openEditor(worker ? `Edit ${worker.name || worker.id}` : "Add a carer", workerForm(worker || {}),
    (body) => saveRecord("workers", body, Boolean(worker)));
}

function addClient() {
  const client = clientForm({}, workers);
  const first = packageForm({ start_date: new Date().toISOString().slice(0, 10), days: [...DAYS] });
  const form = {
    node: h("div", {}, client.node, h("h3", { text: "Their first care package" }), first.node),
    read: () => ({ client: client.read(), package: first.read() }),
  };
  openEditor("Add a client with a package", form, async (body) => {
    await saveRecord("clients", body.client, false);
    await saveRecord("packages", { ...body.package, client: body.client.id }, false);
  });
}

async function loadAll() {
  let clients, packages;
  [workers, clients, packages] = await Promise.all([
    allRecords("workers"), allRecords("clients"), allRecords("packages"),
  ]);
  const count = {};
  for (const p of packages) count[p.client] = (count[p.client] || 0) + 1;
  const names = Object.fromEntries(workers.map((w) => [w.id, w.name || w.id]));
  $("carers").tBodies[0].replaceChildren(...workers.map((w) => h("tr", { "data-id": w.id },
    h("td", { text: w.name || w.id }), h("td", { text: w.role }),
    h("td", { text: (w.areas || []).join(", ") || "all" }), h("td", { text: (w.skills || []).join(", ") }),
    h("td", { text: daysOf(w) }), h("td", { text: awayText(w) }),
    h("td", {}, h("button", { type: "button", class: "quiet", text: "Edit", onclick: () => editWorker(w) })))));
  $("clients").tBodies[0].replaceChildren(...clients.map((c) => h("tr", { "data-id": c.id },
    h("td", {}, h("a", { href: `/board/clients/${encodeURIComponent(c.id)}`, text: c.name || c.id })),
    h("td", { text: c.area || "" }), h("td", { text: c.address || "" }),
    h("td", { text: c.coordinator ? names[c.coordinator] || c.coordinator : "" }),
    h("td", { class: "num", text: String(count[c.id] || 0) }),
    h("td", {}, h("a", { class: "button quiet", href: `/board/clients/${encodeURIComponent(c.id)}`, text: "Open" })))));
}

function start() {
  if (!apiKey()) {
    toLogin();
    return;
  }
  $("import-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runImport(true);
  });
  $("import").addEventListener("click", () => {
    if (previewed) runImport(false);
  });
  $("import-file").addEventListener("change", () => {
    previewed = null;
    $("import").disabled = true;
  });
  $("add-carer").addEventListener("click", () => editWorker(null));
  $("add-client").addEventListener("click", addClient);
  loadAll().catch((error) => {
    if (error.status === 401) toLogin();
    else say($("page-error"), error.message);
  });
}

start();
