// A client's page: their record (editable), who cared for them in the last four weeks of
// published rotas, and their care packages (add and edit).
import { api, apiKey, dayLabel, h, say, toLogin } from "./api.js";
import { allRecords, clientForm, editor, packageForm, saveRecord } from "./forms.js";

const $ = (id) => document.getElementById(id);
const clientId = decodeURIComponent(location.pathname.split("/").pop());
const path = `/v1/clients/${encodeURIComponent(clientId)}`;

let workers = []; // the agency's, to choose the coordinator and carers by name

function showClient(client) {
  document.title = `${client.name || client.id} · carerota`;
  $("client-title").textContent = client.name || client.id;
  $("client-where").textContent = [client.address, client.area].filter(Boolean).join(" · ");
  const form = editor("Details", clientForm(client, workers), async (body) => {
    const saved = await saveRecord("clients", body, true);
    say($("saved"), `Saved ${saved.name || saved.id}.`);
    showClient(saved);
  });
  $("client-form").replaceChildren(form);
}

async function showRecent() {
  const recent = await api(`${path}/carers`);
  const weeks = (w) => w.map((d) => `w/c ${dayLabel(d)}`).join(", ");
  $("carers-since").textContent = recent.since ? `Published rotas from ${dayLabel(recent.since)}.` : "";
  $("recent").tBodies[0].replaceChildren(...recent.carers.map((c) => h("tr", {},
    h("td", { text: c.name || c.worker }), h("td", { class: "num", text: String(c.visits) }),
    h("td", { text: weeks(c.weeks) }), h("td", { text: dayLabel(c.last) }))));
  $("recent-empty").hidden = recent.carers.length > 0;
}

function runs(p) {
  const every = p.every_weeks > 1 ? `every ${p.every_weeks} weeks ` : "";
  return `${every}from ${dayLabel(p.start_date)}${p.end_date ? ` until ${dayLabel(p.end_date)}` : ""}`;
}

function editPackage(pkg) {
  const slot = $("package-editor");
  const node = editor(pkg ? "Edit the package" : "Add a package", packageForm(pkg || {}, clientId), async (body) => {
    await saveRecord("packages", body, Boolean(pkg));
    slot.replaceChildren();
    await showPackages();
  });
  slot.replaceChildren(node);
}

async function showPackages() {
  const packages = await allRecords("packages", `&client=${encodeURIComponent(clientId)}`);
  $("packages").tBodies[0].replaceChildren(...packages.map((p) => h("tr", {},
    h("td", { text: p.days.join(" ") }), h("td", { text: `${p.earliest_start}–${p.latest_start}` }),
    h("td", { class: "num", text: String(p.duration_minutes) }), h("td", { class: "num", text: String(p.workers_required) }),
    h("td", { text: p.skills.join(", ") }), h("td", { text: runs(p) }),
    h("td", {}, h("button", { type: "button", class: "quiet", text: "Edit", onclick: () => editPackage(p) })))));
}

async function start() {
  if (!apiKey()) {
    toLogin();
    return;
  }
  $("add-package").addEventListener("click", () => editPackage(null));
  try {
    const [client, all] = await Promise.all([api(path), allRecords("workers")]);
    workers = all;
    showClient(client);
    await Promise.all([showRecent(), showPackages()]);
  } catch (error) {
    if (error.status === 401) toLogin();
    else say($("page-error"), error.message);
  }
}

start();
