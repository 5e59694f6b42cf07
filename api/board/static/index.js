// The board's front page: sign in with the agency key, request a rota, list the rotas.
import { api, apiKey, dayLabel, fmt, h, plural, say, setApiKey, signOut, statusWords, when } from "./api.js";

const $ = (id) => document.getElementById(id);
let nextPage = null;

/** Only a path on this site, so a crafted ?next= cannot send the key-holder elsewhere. */
function nextTarget() {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/board/") && !next.startsWith("//") ? next : null;
}

async function signIn(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  say($("login-error"), "");
  try {
    await api("/v1/rotas?limit=1", { key });
  } catch (error) {
    say($("login-error"), error.status === 401 || error.status === 403
      ? "That key is not an agency API key this service knows."
      : error.message);
    $("key").focus();
    return;
  }
  setApiKey(key);
  const target = nextTarget();
  if (target) location.assign(target);
  else showHome();
}

function statusCell(item) {
  const bad = item.status === "failed" || (item.check && !item.check.ok);
  const chips = [h("span", { class: `chip ${bad ? "chip-bad" : `chip-${item.status}`}`, text: statusWords(item.status, item.solver_status) })];
  if (item.check && !item.check.ok) chips.push(" ", h("span", { class: "chip chip-bad", text: plural(item.check.breaches, "rule breach", "rule breaches") }));
  if (item.published) chips.push(" ", h("span", { class: "chip chip-published", text: "published" }));
  return h("td", {}, chips);
}

function row(item) {
  const p = item.progress;
  const week = `${dayLabel(item.period.start)} – ${dayLabel(item.period.end)}`;
  const link = h("a", { href: `/board/rotas/${encodeURIComponent(item.id)}`, text: week });
  const origin = item.parent ? "a changed version" : item.agency;
  // Ids, the optimiser's status and its objective are for whoever asks, folded away.
  const details = h(
    "details",
    { class: "details" },
    h("summary", { text: "Details" }),
    h("dl", { class: "facts small" },
      [["Reference", item.id], ["Optimiser", item.solver_status ?? "–"], ["Objective", fmt(p.objective)], ["Seed", String(item.options.seed)]]
        .flatMap(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })])),
  );
  return h(
    "tr",
    { "data-rota": item.id },
    h("td", {}, link, h("div", { class: "muted small", text: origin })),
    statusCell(item),
    h("td", { class: "num", "data-col": "staffed", "data-label": "Visits staffed", text: p.visits_staffed === null ? "–" : `${fmt(p.visits_staffed)} of ${plural(item.visits, "visit")}` }),
    h("td", { class: "num", "data-col": "carers", "data-label": "Carers per client", text: p.carers_per_client === null ? "–" : fmt(p.carers_per_client) }),
    h("td", { "data-col": "made", "data-label": "Made", text: when(item.created_at) }),
    h("td", {}, details),
  );
}

async function loadRotas(more = false) {
  const body = $("rotas").tBodies[0];
  const url = more && nextPage ? nextPage : "/v1/rotas?limit=20";
  const page = await api(url);
  if (!more) body.replaceChildren();
  body.append(...page.items.map(row));
  nextPage = page.next;
  $("more").hidden = !page.next;
  $("list-empty").hidden = body.rows.length > 0;
}

async function requestRota(event) {
  event.preventDefault();
  const form = event.target;
  say($("new-error"), "");
  const file = $("problem-file").files[0];
  if (!file) return;
  let problem;
  try {
    problem = JSON.parse(await file.text());
  } catch {
    say($("new-error"), `${file.name} is not JSON.`);
    return;
  }
  const options = {
    time_limit: Number(form.time_limit.value) || undefined,
    seed: Number(form.seed.value) || 0,
    method: form.method.value,
  };
  $("new-submit").disabled = true;
  try {
    const created = await api("/v1/rotas", { method: "POST", body: { problem, options } });
    location.assign(`/board/rotas/${encodeURIComponent(created.id)}`);
  } catch (error) {
    const where = error.details.slice(0, 3).map((d) => `${d.loc}: ${d.message}`);
    say($("new-error"), [error.message, ...where.slice(1)].join("\n"));
    $("new-submit").disabled = false;
  }
}

/** The Monday after the latest published week, else the coming Monday ("YYYY-MM-DD"). */
function nextMonday(rotas) {
  const published = rotas.filter((r) => r.published).map((r) => r.period.end).sort();
  const base = published.length ? new Date(`${published.at(-1)}T12:00:00Z`) : new Date();
  const day = new Date(Date.UTC(base.getUTCFullYear(), base.getUTCMonth(), base.getUTCDate() + 1));
  while (day.getUTCDay() !== 1) day.setUTCDate(day.getUTCDate() + 1);
  return day.toISOString().slice(0, 10);
}

async function preparePlan() {
  const [rotas, clients] = await Promise.all([api("/v1/rotas?limit=50"), api("/v1/clients?limit=500")]);
  $("plan-week").value = nextMonday(rotas.items);
  const areas = [...new Set(clients.items.map((c) => c.area).filter(Boolean))].sort();
  $("plan-area").replaceChildren(h("option", { value: "", text: "Whole agency" }),
    ...areas.map((a) => h("option", { value: a, text: a })));
}

async function planWeek(event) {
  event.preventDefault();
  const form = event.target;
  say($("plan-error"), "");
  $("plan-submit").disabled = true;
  try {
    const body = { week: form.week.value, options: { time_limit: Number(form.time_limit.value) || undefined } };
    if (form.area.value) body.area = form.area.value;
    const created = await api("/v1/plans", { method: "POST", body });
    location.assign(`/board/rotas/${encodeURIComponent(created.id)}`);
  } catch (error) {
    say($("plan-error"), error.message);
    $("plan-submit").disabled = false;
  }
}

function showHome() {
  $("login").hidden = true;
  $("home").hidden = false;
  $("sign-out").hidden = false;
  $("records-link").hidden = false;
  preparePlan().catch((error) => say($("plan-error"), error.message));
  loadRotas().catch((error) => {
    if (error.status === 401) signOut();
    else say($("new-error"), error.message);
  });
}

function start() {
  $("login-form").addEventListener("submit", signIn);
  $("new-form").addEventListener("submit", requestRota);
  $("plan-form").addEventListener("submit", planWeek);
  $("refresh").addEventListener("click", () => loadRotas());
  $("more").addEventListener("click", () => loadRotas(true));
  $("sign-out").addEventListener("click", signOut);
  if (apiKey()) {
    const target = nextTarget();
    if (target) location.assign(target);
    else showHome();
  } else {
    $("login").hidden = false;
    $("key").focus();
  }
}

start();
