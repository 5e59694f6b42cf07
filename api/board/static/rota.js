// One rota's board: what needs attention, the key figures, the week grid, the map, hours
// against contract, and the actions (watch a solve, pin and re-solve, publish).
import {
  api,
  apiKey,
  clock,
  dayLabel,
  daysBetween,
  fmt,
  followEvents,
  h,
  minuteOfDay,
  pct,
  s,
  say,
  signOut,
  toLogin,
} from "./api.js";

const $ = (id) => document.getElementById(id);
const FINAL = new Set(["done", "failed", "cancelled"]);
const GOLDEN = 137.508;
const rotaId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());

const state = {
  summary: null,
  rota: null,
  problem: null,
  explain: null,
  view: "week", // or a day "YYYY-MM-DD"
  pins: new Map(), // visit id -> Set of worker ids, waiting for a re-solve
  opener: null, // the element that opened the visit detail, to give focus back
  spark: [],
  changes: null, // the change list against the parent version, when there is one
  changed: new Set(), // visits whose crew or time changed against the parent
};
let ix = null; // indexes over the problem and the rota, built once they are both loaded

// ---------------------------------------------------------------------------------------------
// Indexes

function buildIndex(problem, rota) {
  const workers = new Map(problem.workers.map((w) => [w.id, w]));
  const clients = new Map(problem.clients.map((c) => [c.id, c]));
  const visits = new Map(problem.visits.map((v) => [v.id, v]));
  const clientColour = new Map();
  problem.clients.forEach((c, i) => clientColour.set(c.id, (i * GOLDEN) % 360));
  const workerColour = new Map();
  problem.workers.forEach((w, i) => workerColour.set(w.id, (i * GOLDEN + 200) % 360));

  const assigned = new Map(rota.assignments.map((a) => [a.visit, a]));
  const unassigned = new Map(rota.unassigned.map((u) => [u.visit, u.reason]));
  const coordinatorVisits = new Map();
  for (const cv of rota.coordinator_visits) {
    if (!coordinatorVisits.has(cv.visit)) coordinatorVisits.set(cv.visit, []);
    coordinatorVisits.get(cv.visit).push(cv);
  }
  const familiar = new Map(); // "client|worker" -> visits in the history
  for (const hv of problem.history?.visits ?? []) {
    const key = `${hv.client}|${hv.worker}`;
    familiar.set(key, (familiar.get(key) ?? 0) + 1);
  }
  const stops = new Map(); // "worker|day" -> [{stop, shift, first}]
  const stopOf = new Map(); // "worker|visit" -> that entry
  const attends = new Map(); // "client|worker" -> visits in this rota
  const worked = new Map(); // worker -> working minutes (visits + travel between them)
  for (const route of rota.routes) {
    let previousShift = null;
    const list = route.stops.map((stop) => {
      const shift = shiftOf(workers.get(route.worker), stop.start);
      const entry = { stop, shift, first: shift !== previousShift, worker: route.worker };
      previousShift = shift;
      stopOf.set(`${route.worker}|${stop.visit}`, entry);
      const client = visits.get(stop.visit).client;
      const key = `${client}|${route.worker}`;
      attends.set(key, (attends.get(key) ?? 0) + 1);
      return entry;
    });
    stops.set(`${route.worker}|${route.date}`, list);
    worked.set(
      route.worker,
      (worked.get(route.worker) ?? 0) + route.visit_minutes + route.travel_minutes,
    );
  }
  const days = daysBetween(problem.period.start, problem.period.end);
  return {
    workers, clients, visits, clientColour, workerColour, assigned, unassigned,
    coordinatorVisits, familiar, stops, stopOf, attends, worked, days, hours: hourRange(problem, rota),
  };
}

/** The index of the worker's shift holding a moment (wall-clock strings compare in order). */
function shiftOf(worker, moment) {
  const at = moment.slice(0, 16);
  return (worker?.shifts ?? []).findIndex((sh) => sh.start.slice(0, 16) <= at && at < sh.end.slice(0, 16));
}

/** Whole hours covering every visit window and stop, so the grid wastes no width at night. */
function hourRange(problem, rota) {
  let lo = 24 * 60;
  let hi = 0;
  for (const v of problem.visits) {
    lo = Math.min(lo, minuteOfDay(v.earliest_start));
    const late = v.late_allowed_minutes ?? 0;
    hi = Math.max(hi, minuteOfDay(v.latest_start) + late + v.duration_minutes);
  }
  for (const route of rota.routes) {
    for (const stop of route.stops) {
      lo = Math.min(lo, minuteOfDay(stop.start));
      const end = stop.end.slice(0, 10) > route.date ? 24 * 60 : minuteOfDay(stop.end);
      hi = Math.max(hi, end);
    }
  }
  if (lo >= hi) return { from: 0, to: 24 * 60 };
  return { from: Math.floor(lo / 60) * 60, to: Math.min(24 * 60, Math.ceil(hi / 60) * 60) };
}

const nameOf = (id) => ix.workers.get(id)?.name || id;
const clientName = (id) => ix.clients.get(id)?.name || id;
const isFamiliar = (client, worker) =>
  ix.familiar.has(`${client}|${worker}`) || (ix.clients.get(client)?.preferred_workers ?? []).includes(worker);
const visitDay = (visit) => visit.earliest_start.slice(0, 10);

// ---------------------------------------------------------------------------------------------
// Header, progress and messages

function renderHeader() {
  const sum = state.summary;
  document.title = `${sum.agency || "Rota"} ${sum.period.start} · carerota`;
  $("title").textContent = `${sum.agency || "Rota"} · ${dayLabel(sum.period.start)} – ${dayLabel(sum.period.end)}`;
  const sub = $("subtitle");
  sub.replaceChildren(`${sum.id} · ${sum.visits} visits`);
  if (sum.parent) {
    sub.append(" · a new version of ", h("a", { href: `/board/rotas/${encodeURIComponent(sum.parent)}`, text: sum.parent }));
  }
  const chips = [];
  const solver = sum.solver_status;
  chips.push(h("span", { class: `chip chip-${sum.status}`, text: sum.status === "done" && solver ? solver : sum.status }));
  if (sum.check) {
    chips.push(
      sum.check.ok
        ? h("span", { class: "chip chip-ok", text: "every hard rule kept" })
        : h("span", { class: "chip chip-bad", text: `${sum.check.breaches} rule breaches` }),
    );
  }
  if (sum.published) chips.push(h("span", { class: "chip chip-published", id: "published-chip", text: "published" }));
  $("chips").replaceChildren(...chips);
  const publish = $("publish");
  const publishable = state.rota && sum.check?.ok;
  publish.disabled = !publishable || sum.published;
  publish.textContent = sum.published ? "Published" : "Publish";
  publish.title = publishable ? "" : "Only a finished rota that keeps every hard rule can be published";
}

function renderProgress(sum) {
  const box = $("progress");
  box.hidden = FINAL.has(sum.status);
  if (box.hidden) return;
  const p = sum.progress;
  const limit = sum.options.time_limit || 0;
  $("progress-title").textContent = sum.status === "queued" ? "Waiting for a solver" : "Solving";
  const method = sum.options.method === "heuristic" ? "quick construction" : "optimiser";
  $("progress-what").textContent = `${sum.visits} visits · ${method} · seed ${sum.options.seed} · progress streamed live from the service`;
  $("progress-fill").style.width = `${limit && p.elapsed ? Math.min(100, (100 * p.elapsed) / limit) : 2}%`;
  const stats = [
    ["elapsed", "Elapsed", p.elapsed === null ? "–" : `${fmt(p.elapsed)} s of ${fmt(limit)} s`],
    ["objective", "Best objective", fmt(p.objective)],
    ["bound", "Lower bound", fmt(p.bound)],
    ["gap", "Gap", p.gap === null ? "–" : pct(p.gap)],
  ];
  $("progress-stats").replaceChildren(
    ...stats.map(([key, k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { "data-stat": key, text: v }))),
  );
  if (p.objective !== null && p.elapsed !== null) {
    state.spark.push([p.elapsed, p.objective]);
    const xs = state.spark.map((q) => q[0]);
    const ys = state.spark.map((q) => q[1]);
    const [x0, x1] = [0, Math.max(limit, ...xs, 1)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const points = state.spark.map(
      ([x, y]) => `${(400 * (x - x0)) / (x1 - x0)},${y1 === y0 ? 30 : 6 + (48 * (y - y0)) / (y1 - y0)}`,
    );
    if (points.length === 1) points.push(`${400 * (xs[0] / x1) + 2},${points[0].split(",")[1]}`);
    $("spark").replaceChildren(s("polyline", { points: points.join(" ") }));
  }
}

function showError(error) {
  if (error.status === 401) {
    toLogin();
    return;
  }
  say($("message"), error.message);
}

function notice(message) {
  say($("notice"), message);
}

// ---------------------------------------------------------------------------------------------
// Needs attention

function visitWhen(visit) {
  const a = ix.assigned.get(visit.id);
  const day = dayLabel(visitDay(visit));
  if (a) return `${day} ${clock(a.start)}`;
  return `${day} ${clock(visit.earliest_start)}–${clock(visit.latest_start)}`;
}

function renderAttention() {
  const rota = state.rota;
  const parts = [];
  const unstaffed = [...rota.unassigned].sort((a, b) =>
    ix.visits.get(a.visit).earliest_start.localeCompare(ix.visits.get(b.visit).earliest_start),
  );
  if (unstaffed.length) {
    parts.push(
      h(
        "div",
        { class: "alert alert-bad", id: "unstaffed" },
        h("h2", {}, "Unstaffed visits", h("span", { class: "count", text: String(unstaffed.length) })),
        h(
          "ul",
          {},
          unstaffed.map((u) => {
            const v = ix.visits.get(u.visit);
            const extra = v.workers_required > 1 ? " · double-up" : "";
            return h(
              "li",
              {},
              h(
                "button",
                { type: "button", "data-visit": v.id, onclick: (e) => openVisit(v.id, e.currentTarget) },
                h("span", { class: "when", text: visitWhen(v) }),
                h("span", { class: "what", text: `${clientName(v.client)} · ${v.duration_minutes} min${extra}` }),
                h("span", { class: "why", text: u.reason }),
              ),
            );
          }),
        ),
      ),
    );
  }
  const shortfalls = rota.violations.filter((v) => v.rule === "coordinator_monthly_visit");
  if (shortfalls.length) {
    parts.push(
      h(
        "div",
        { class: "alert alert-warn", id: "shortfalls" },
        h("h2", {}, "Coordinator visits missing", h("span", { class: "count", text: String(shortfalls.length) })),
        h(
          "ul",
          {},
          shortfalls.map((v) =>
            h(
              "li",
              {},
              h(
                "div",
                {},
                h("span", { class: "when", text: v.month ?? "" }),
                h("span", { class: "what", text: `${nameOf(v.coordinator)} has not seen ${clientName(v.client)}` }),
                h("span", { class: "why", text: v.detail ?? "" }),
              ),
            ),
          ),
        ),
      ),
    );
  }
  const others = rota.violations.filter((v) => v.rule !== "coordinator_monthly_visit");
  const breaches = state.explain?.check?.breaches ?? [];
  if (others.length || breaches.length) {
    parts.push(
      h(
        "div",
        { class: "alert alert-bad", id: "breaches" },
        h("h2", {}, "Hard rules broken", h("span", { class: "count", text: String(others.length + breaches.length) })),
        h(
          "ul",
          {},
          [...others, ...breaches].map((b) =>
            h("li", {}, h("div", {}, h("span", { class: "when", text: b.rule }), h("span", { class: "what", text: b.detail ?? "" }))),
          ),
        ),
      ),
    );
  }
  if (!parts.length) {
    parts.push(
      h("div", { class: "alert alert-ok", id: "all-clear" }, h("h2", { text: "Every visit is staffed and every coordinator visit is made" })),
    );
  }
  $("attention").replaceChildren(...parts);
}

// ---------------------------------------------------------------------------------------------
// Key figures

function kpi(label, value, sub, { tone = "", meter = null, id = "" } = {}) {
  return h(
    "div",
    { class: `kpi ${tone}`, id: id || null },
    h("div", { class: "label", text: label }),
    h("div", { class: "value" }, value),
    meter === null ? null : h("div", { class: "meter" }, meterFill(meter)),
    h("div", { class: "sub", text: sub }),
  );
}

function meterFill(share) {
  const div = h("div");
  div.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return div;
}

function renderKpis() {
  const { rota, problem } = state;
  const m = rota.metrics;
  const staffedShare = m.visits_total ? m.visits_assigned / m.visits_total : 1;
  let visitMinutes = 0;
  let homeMinutes = 0;
  for (const r of rota.routes) {
    visitMinutes += r.visit_minutes;
    homeMinutes += r.home_travel_minutes;
  }
  const travelShare = m.travel_minutes / Math.max(1, m.travel_minutes + visitMinutes);
  const overseen = problem.clients.filter((c) => c.coordinator);
  const short = new Set(rota.violations.filter((v) => v.rule === "coordinator_monthly_visit").map((v) => v.client));
  const seen = new Set();
  for (const [visitId, list] of ix.coordinatorVisits) {
    const client = ix.clients.get(ix.visits.get(visitId).client);
    if (list.some((cv) => cv.coordinator === client.coordinator)) seen.add(client.id);
  }
  const coverage = overseen.length ? (overseen.length - short.size) / overseen.length : 1;
  let contracted = 0;
  let workedOnContract = 0;
  let under = 0;
  for (const w of problem.workers) {
    if (!w.contracted_minutes_per_week) continue;
    const worked = ix.worked.get(w.id) ?? 0;
    contracted += w.contracted_minutes_per_week;
    workedOnContract += Math.min(worked, w.contracted_minutes_per_week);
    if (worked < 0.9 * w.contracted_minutes_per_week) under += 1;
  }
  const cards = [
    kpi(
      "Staffed",
      [`${m.visits_assigned}`, h("small", { text: ` / ${m.visits_total}` })],
      `${pct(staffedShare)} of visits · ${m.visits_total - m.visits_assigned} unstaffed`,
      { tone: staffedShare < 1 ? "kpi-bad" : "", meter: staffedShare, id: "kpi-staffed" },
    ),
    kpi(
      "Travel",
      [fmt(m.travel_minutes / 60), h("small", { text: " h" })],
      `${pct(travelShare)} of working time · ${fmt(homeMinutes / 60)} h from and to home`,
      { meter: travelShare, id: "kpi-travel" },
    ),
    kpi(
      "Carers per client",
      fmt(m.mean_distinct_workers_per_client),
      "mean distinct carers each client sees",
      { id: "kpi-continuity" },
    ),
    kpi("Familiar carers", pct(m.familiar_visit_share), "of staffed visits, by a carer the client knows", {
      meter: m.familiar_visit_share,
      id: "kpi-familiar",
    }),
    kpi(
      "Coordinator rule",
      pct(coverage),
      `${short.size} short · ${seen.size} of ${overseen.length} clients seen by their coordinator this period`,
      { tone: short.size ? "kpi-warn" : "", meter: coverage, id: "kpi-coordinator" },
    ),
    kpi(
      "Contract hours",
      pct(contracted ? workedOnContract / contracted : 1),
      `of contracted hours worked · ${under} carers more than 10% short`,
      { tone: under ? "kpi-warn" : "", meter: contracted ? workedOnContract / contracted : 1, id: "kpi-contract" },
    ),
  ];
  $("kpis").replaceChildren(...cards);
}

// ---------------------------------------------------------------------------------------------
// Week grid

function lanePosition(node, startMinute, minutes) {
  const { from, to } = ix.hours;
  const span = to - from;
  node.style.left = `${(100 * (startMinute - from)) / span}%`;
  node.style.width = `${(100 * minutes) / span}%`;
}

function visitColour(node, clientId) {
  const hue = ix.clientColour.get(clientId) ?? 0;
  node.style.background = `hsl(${hue} 70% 86%)`;
  node.style.borderLeftColor = `hsl(${hue} 55% 38%)`;
}

function visitBlock(worker, entry, dayView) {
  const { stop } = entry;
  const visit = ix.visits.get(stop.visit);
  const assignment = ix.assigned.get(stop.visit);
  const crew = assignment ? assignment.workers : [];
  const shadows = (ix.coordinatorVisits.get(stop.visit) ?? []).filter((cv) => cv.mode === "shadow");
  const cover = (ix.coordinatorVisits.get(stop.visit) ?? []).some((cv) => cv.mode === "cover" && cv.coordinator === worker.id);
  const others = [...crew, ...shadows.map((cv) => cv.coordinator)].filter((w) => w !== worker.id);
  const shadow = stop.mode === "shadow";
  const start = minuteOfDay(stop.start);
  const client = clientName(visit.client);
  const classes = ["visit"];
  if (shadow) classes.push("shadow");
  if (visit.workers_required > 1) classes.push("double");
  if (cover) classes.push("cover");
  if ((visit.pinned_workers ?? []).includes(worker.id)) classes.push("pinned");
  if (state.changed.has(visit.id)) classes.push("changed");
  const partner = others.length ? `with ${others.map(nameOf).join(", ")}` : "";
  const travel = entry.first ? `${fmt(stop.travel_minutes_before)} min from home` : `${fmt(stop.travel_minutes_before)} min travel before`;
  const label = [
    `${clock(stop.start)}–${clock(stop.end)} ${client}`,
    shadow ? "shadow visit (coordinator rule)" : "",
    cover ? "covered by the coordinator" : "",
    visit.workers_required > 1 ? "double-up" : "",
    partner,
    travel,
  ].filter(Boolean).join(" · ");
  const block = h(
    "button",
    {
      type: "button",
      class: classes.join(" "),
      "data-visit": visit.id,
      "data-worker": worker.id,
      "aria-label": label,
      title: label,
      onclick: (e) => openVisit(visit.id, e.currentTarget),
    },
    h("span", { class: "line", text: shadow ? `◌ ${client}` : client }),
    dayView && partner ? h("span", { class: "line partner", text: partner }) : null,
  );
  const end = stop.end.slice(0, 10) > stop.start.slice(0, 10) ? 24 * 60 : minuteOfDay(stop.end);
  lanePosition(block, start, Math.max(end - start, 1));
  if (!shadow) visitColour(block, visit.client);
  const parts = [block];
  if (stop.travel_minutes_before > 0) {
    const line = h("span", { class: "travel", "aria-hidden": "true" });
    lanePosition(line, start - stop.travel_minutes_before, stop.travel_minutes_before);
    parts.unshift(line);
  }
  return parts;
}

function shiftBands(worker, day) {
  const bands = [];
  for (const sh of worker.shifts ?? []) {
    const sDay = sh.start.slice(0, 10);
    const eDay = sh.end.slice(0, 10);
    if (sDay > day || eDay < day) continue;
    const from = sDay < day ? 0 : minuteOfDay(sh.start);
    const to = eDay > day ? 24 * 60 : minuteOfDay(sh.end);
    const band = h("span", { class: "shift", "aria-hidden": "true" });
    lanePosition(band, from, to - from);
    bands.push(band);
  }
  return bands;
}

function workerRow(worker, days, dayView) {
  const worked = ix.worked.get(worker.id) ?? 0;
  const contract = worker.contracted_minutes_per_week;
  const bar = h("span", { class: `bar ${contract && worked < 0.9 * contract ? "short" : ""}` });
  if (contract) bar.append(meterFill(worked / contract));
  const meta = h(
    "span",
    { class: "who-meta" },
    h("span", { text: contract ? `${fmt(worked / 60)} / ${fmt(contract / 60)} h` : `${fmt(worked / 60)} h` }),
    contract ? bar : null,
  );
  const head = h(
    "th",
    { scope: "row", class: "who" },
    h("button", {
      type: "button",
      class: "who-name",
      text: worker.name || worker.id,
      title: `${worker.name || worker.id} (${worker.id}): show their day on the map`,
      onclick: () => selectWorker(worker.id),
    }),
    meta,
  );
  const cells = days.map((day) => {
    const lane = h("div", { class: "lane" }, shiftBands(worker, day));
    for (const entry of ix.stops.get(`${worker.id}|${day}`) ?? []) lane.append(...visitBlock(worker, entry, dayView));
    return h("td", {}, lane);
  });
  return h("tr", { "data-worker": worker.id, class: state.mapWorker === worker.id ? "selected" : "" }, head, cells);
}

function unstaffedRow(days) {
  const head = h(
    "th",
    { scope: "row", class: "who" },
    h("span", { class: "who-name", text: "Unstaffed" }),
    h("span", { class: "who-meta", text: `${state.rota.unassigned.length} visits, at their windows` }),
  );
  const cells = days.map((day) => {
    const items = state.rota.unassigned
      .map((u) => ix.visits.get(u.visit))
      .filter((v) => visitDay(v) === day)
      .sort((a, b) => a.earliest_start.localeCompare(b.earliest_start));
    const laneEnds = [];
    const lane = h("div", { class: "lane" });
    for (const v of items) {
      const from = minuteOfDay(v.earliest_start);
      const to = minuteOfDay(v.latest_start) + v.duration_minutes;
      let row = laneEnds.findIndex((end) => end <= from);
      if (row < 0) row = laneEnds.push(0) - 1;
      laneEnds[row] = to;
      const label = `Unstaffed: ${clientName(v.client)}, window ${clock(v.earliest_start)}–${clock(v.latest_start)}, ${v.duration_minutes} min · ${ix.unassigned.get(v.id)}`;
      const block = h(
        "button",
        {
          type: "button",
          class: "visit unstaffed",
          "data-visit": v.id,
          "aria-label": label,
          title: label,
          onclick: (e) => openVisit(v.id, e.currentTarget),
        },
        h("span", { class: "line", text: clientName(v.client) }),
      );
      lanePosition(block, from, to - from);
      block.style.top = `${3 + row * 22}px`;
      block.style.height = "19px";
      block.style.bottom = "auto";
      lane.append(block);
    }
    lane.style.height = `${Math.max(1, laneEnds.length) * 22 + 6}px`;
    return h("td", {}, lane);
  });
  return h("tr", { class: "unstaffed-row" }, head, cells);
}

function hourAxis() {
  const { from, to } = ix.hours;
  const axis = h("span", { class: "hours-axis", "aria-hidden": "true" });
  for (let m = from; m < to; m += 180) {
    const mark = h("span", { text: hhmm(m).slice(0, 2) });
    mark.style.left = `${(100 * (m - from)) / (to - from)}%`;
    axis.append(mark);
  }
  return axis;
}

function renderGrid() {
  const dayView = state.view !== "week";
  const days = dayView ? [state.view] : ix.days;
  const table = $("grid");
  table.classList.toggle("day-view", dayView);
  table.style.setProperty("--days", String(days.length));
  const hourCount = (ix.hours.to - ix.hours.from) / 60;
  const head = h(
    "tr",
    {},
    h("th", { scope: "col", class: "who", text: "Carer" }),
    days.map((day) =>
      h(
        "th",
        { scope: "col" },
        dayView
          ? h("span", { class: "day-head", text: dayLabel(day) })
          : h("button", {
              type: "button",
              class: "day-head",
              text: dayLabel(day),
              title: `Show ${dayLabel(day)} alone`,
              onclick: () => setView(day),
            }),
        hourAxis(),
      ),
    ),
  );
  const rows = [];
  if (state.rota.unassigned.length) rows.push(unstaffedRow(days));
  const carers = state.problem.workers.filter((w) => w.role !== "coordinator");
  const coordinators = state.problem.workers.filter((w) => w.role === "coordinator");
  rows.push(...carers.map((w) => workerRow(w, days, dayView)));
  if (coordinators.length) {
    rows.push(h("tr", { class: "group" }, h("th", { scope: "rowgroup", colspan: String(days.length + 1), text: "Coordinators" })));
    rows.push(...coordinators.map((w) => workerRow(w, days, dayView)));
  }
  table.replaceChildren(h("thead", {}, head), h("tbody", {}, rows));
  for (const lane of table.querySelectorAll(".lane")) lane.style.backgroundSize = `${100 / hourCount}% 100%`;
  $("grid-title").textContent = dayView ? dayLabel(state.view) : "Week";
  for (const button of $("views").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(button.dataset.view === state.view));
  }
  markActive();
}

function renderViews() {
  const buttons = [h("button", { type: "button", "data-view": "week", text: "Week", onclick: () => setView("week") })];
  for (const day of ix.days) {
    buttons.push(h("button", { type: "button", "data-view": day, text: dayLabel(day).slice(0, 6).trim(), title: dayLabel(day), onclick: () => setView(day) }));
  }
  $("views").replaceChildren(...buttons);
  const sw = (cls, text) => h("span", {}, h("span", { class: `swatch visit-swatch ${cls}` }), text);
  $("legend").replaceChildren(
    h("span", { text: `Each day ${hhmm(ix.hours.from)}–${hhmm(ix.hours.to)}, a colour per client` }),
    sw("sw-shift", "on shift"),
    sw("sw-travel", "travel before"),
    sw("sw-double", "double-up"),
    sw("sw-shadow", "coordinator shadowing"),
    sw("sw-cover", "coordinator covering"),
    sw("sw-pinned", "pinned"),
    sw("sw-unstaffed", "unstaffed"),
    ...(state.changed.size ? [sw("sw-changed", "changed since the previous version")] : []),
  );
}

function hhmm(minute) {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

function setView(view) {
  state.view = view;
  renderGrid();
  if (view !== "week") {
    $("map-day").value = view;
    renderMap();
  }
}

function markActive() {
  for (const node of document.querySelectorAll(".visit.active")) node.classList.remove("active");
  const id = state.openVisit;
  if (!id) return;
  for (const node of document.querySelectorAll(".visit")) {
    if (node.dataset.visit === id) node.classList.add("active");
  }
}

// ---------------------------------------------------------------------------------------------
// Map

function renderMapControls() {
  $("map-day").replaceChildren(...ix.days.map((d) => h("option", { value: d, text: dayLabel(d) })));
  const busiest = ix.days.reduce((best, d) => (dayLoad(d) > dayLoad(best) ? d : best), ix.days[0]);
  $("map-day").value = busiest;
  $("map-worker").replaceChildren(
    h("option", { value: "", text: "Everyone" }),
    ...state.problem.workers.map((w) => h("option", { value: w.id, text: w.name || w.id })),
  );
  $("map-day").addEventListener("change", renderMap);
  $("map-worker").addEventListener("change", () => selectWorker($("map-worker").value || null, false));
}

function dayLoad(day) {
  let n = 0;
  for (const w of state.problem.workers) n += (ix.stops.get(`${w.id}|${day}`) ?? []).length;
  return n;
}

function selectWorker(id, scroll = true) {
  state.mapWorker = id;
  $("map-worker").value = id ?? "";
  for (const row of $("grid").querySelectorAll("tr[data-worker]")) {
    row.classList.toggle("selected", row.dataset.worker === id);
  }
  renderMap();
  if (scroll && id) $("map").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function renderMap() {
  const svg = $("map");
  const day = $("map-day").value;
  const chosen = state.mapWorker;
  const places = [
    ...state.problem.clients.map((c) => c.location),
    ...state.problem.workers.map((w) => w.home),
  ];
  const lat0 = places.reduce((t, p) => t + p.lat, 0) / places.length;
  const k = Math.cos((lat0 * Math.PI) / 180);
  const xs = places.map((p) => p.lon * k);
  const ys = places.map((p) => -p.lat);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const W = 640;
  const H = 440;
  const pad = 24;
  const scale = Math.min((W - 2 * pad) / (maxX - minX || 1e-3), (H - 2 * pad) / (maxY - minY || 1e-3));
  const ox = (W - scale * (maxX - minX)) / 2;
  const oy = (H - scale * (maxY - minY)) / 2;
  const at = (p) => [ox + scale * (p.lon * k - minX), oy + scale * (-p.lat - minY)];
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);

  const paths = [];
  const numbers = [];
  let shown = 0;
  for (const w of state.problem.workers) {
    const entries = ix.stops.get(`${w.id}|${day}`) ?? [];
    if (!entries.length) continue;
    shown += 1;
    const on = chosen === w.id;
    const colour = `hsl(${ix.workerColour.get(w.id)} 65% 40%)`;
    // A path per shift: the worker goes home between a split shift's parts.
    const byShift = new Map();
    for (const e of entries) {
      if (!byShift.has(e.shift)) byShift.set(e.shift, []);
      byShift.get(e.shift).push(e);
    }
    for (const part of byShift.values()) {
      const points = [w.home, ...part.map((e) => ix.clients.get(ix.visits.get(e.stop.visit).client).location), w.home].map(at);
      paths.push(
        s(
          "polyline",
          {
            class: `path ${on ? "on" : ""}`,
            stroke: colour,
            points: points.map((p) => p.map((v) => v.toFixed(1)).join(",")).join(" "),
            "data-worker": w.id,
          },
          s("title", {}, `${w.name || w.id}: ${part.length} visits, ${clock(part[0].stop.start)}–${clock(part[part.length - 1].stop.end)}`),
        ),
      );
      if (on) {
        part.forEach((e, i) => {
          const [x, y] = at(ix.clients.get(ix.visits.get(e.stop.visit).client).location);
          numbers.push(s("circle", { cx: x, cy: y - 12, r: 7, fill: colour }), s("text", { class: "stop-no", x, y: y - 12 }, String(i + 1)));
        });
      }
    }
  }
  if (chosen) paths.sort((a, b) => Number(a.classList.contains("on")) - Number(b.classList.contains("on")));
  const shortClients = new Set([...ix.unassigned.keys()].filter((v) => visitDay(ix.visits.get(v)) === day).map((v) => ix.visits.get(v).client));
  const clients = state.problem.clients.map((c) => {
    const [x, y] = at(c.location);
    const hue = ix.clientColour.get(c.id);
    const short = shortClients.has(c.id);
    return s(
      "circle",
      { class: `client ${short ? "short" : ""}`, cx: x.toFixed(1), cy: y.toFixed(1), r: short ? 6 : 5, fill: `hsl(${hue} 60% 55%)`, "data-client": c.id },
      s("title", {}, `${c.name || c.id}${c.address ? `, ${c.address}` : ""}${short ? " (a visit unstaffed this day)" : ""}`),
    );
  });
  const homes = state.problem.workers.map((w) => {
    const [x, y] = at(w.home);
    const on = chosen === w.id;
    return s(
      "rect",
      { class: "home", x: (x - 4).toFixed(1), y: (y - 4).toFixed(1), width: 8, height: 8, fill: on ? `hsl(${ix.workerColour.get(w.id)} 65% 40%)` : "#7d8a97" },
      s("title", {}, `home of ${w.name || w.id}`),
    );
  });
  // A kilometre bar, measured at the map's middle latitude.
  const kmDegLon = 1 / (111.32 * k);
  const kmPx = scale * kmDegLon * k;
  let km = 1;
  while (km * kmPx < 50) km *= 2;
  while (km * kmPx > 160 && km > 0.25) km /= 2;
  const scaleBar = s(
    "g",
    {},
    s("line", { class: "scale", x1: 12, y1: H - 14, x2: 12 + km * kmPx, y2: H - 14 }),
    s("text", { class: "label", x: 12, y: H - 20 }, `${km} km`),
  );
  svg.replaceChildren(s("title", {}, "Client locations and each carer's day"), ...paths, ...clients, ...homes, ...numbers, scaleBar);
  const who = chosen ? `${nameOf(chosen)}'s day in order (numbers), others faint` : `${shown} carers' days`;
  $("map-caption").textContent = `${dayLabel(day)}: ${who}. Circles are clients (red ring: a visit unstaffed that day), squares are carers' homes.`;
}

// ---------------------------------------------------------------------------------------------
// Hours and cost

function renderHours() {
  const rows = state.problem.workers
    .map((w) => ({ w, worked: ix.worked.get(w.id) ?? 0, contract: w.contracted_minutes_per_week ?? 0 }))
    .sort((a, b) => (a.worked - a.contract) - (b.worked - b.contract));
  const top = Math.max(1, ...rows.map((r) => Math.max(r.worked, r.contract, r.w.max_minutes_per_week ?? 0)));
  $("hours").replaceChildren(
    ...rows.map(({ w, worked, contract }) => {
      const fill = h("div", { class: `fill ${contract && worked < 0.9 * contract ? "short" : ""}` });
      fill.style.width = `${(100 * worked) / top}%`;
      const track = h("div", { class: "track" }, fill);
      if (contract) {
        const mark = h("div", { class: "mark", title: `contract ${fmt(contract / 60)} h` });
        mark.style.left = `${(100 * contract) / top}%`;
        track.append(mark);
      }
      return h(
        "div",
        { class: "hours-row", "data-worker": w.id },
        h("span", { class: "name", text: w.name || w.id, title: w.id }),
        track,
        h("span", { class: "num", text: contract ? `${fmt(worked / 60)} / ${fmt(contract / 60)} h` : `${fmt(worked / 60)} h` }),
      );
    }),
  );
}

function renderCost() {
  const terms = (state.explain?.terms ?? []).filter((t) => t.value > 0);
  if (!terms.length) {
    $("cost").replaceChildren(h("p", { class: "muted", text: "Nothing costs anything: a perfect rota." }));
    return;
  }
  $("cost").replaceChildren(
    ...terms.map((t) => {
      const fill = h("div");
      fill.style.width = `${Math.max(0.5, t.share * 100)}%`;
      return h(
        "div",
        { class: "cost-row" },
        h("span", { text: t.label }),
        h("div", { class: "track" }, fill),
        h("span", { class: "num", text: `${pct(t.share)}` }),
      );
    }),
    h("p", { class: "muted small", text: `Objective ${fmt(state.explain.objective)}; each unstaffed visit costs ${fmt(state.problem.weights?.unassigned_visit ?? 10000)}.` }),
  );
}

// ---------------------------------------------------------------------------------------------
// Visit detail

function openVisit(id, opener) {
  state.openVisit = id;
  if (opener) state.opener = opener;
  renderDetail();
  $("detail").hidden = false;
  markActive();
  $("detail-close").focus();
}

function closeVisit() {
  state.openVisit = null;
  $("detail").hidden = true;
  markActive();
  if (state.opener && document.body.contains(state.opener)) state.opener.focus();
  state.opener = null;
}

function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]),
  );
}

function whyChips(visit, workerId) {
  const client = ix.clients.get(visit.client);
  const chips = [];
  const before = ix.familiar.get(`${client.id}|${workerId}`) ?? 0;
  if (before) chips.push(h("span", { class: "chip chip-ok", text: `familiar: ${before} visit${before > 1 ? "s" : ""} before` }));
  if ((client.preferred_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip chip-ok", text: "preferred by the client" }));
  if (!before && !(client.preferred_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip chip-warn", text: "new to this client" }));
  if ((visit.pinned_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip", text: "pinned" }));
  const week = ix.attends.get(`${client.id}|${workerId}`) ?? 0;
  if (week > 1) chips.push(h("span", { class: "chip", text: `${week} of this client's visits this period` }));
  return chips;
}

function carerItem(visit, workerId, mode) {
  const w = ix.workers.get(workerId);
  const entry = ix.stopOf.get(`${workerId}|${visit.id}`);
  const travel = entry
    ? entry.first
      ? `${fmt(entry.stop.travel_minutes_before)} min from home`
      : `${fmt(entry.stop.travel_minutes_before)} min from the previous visit`
    : "";
  const role = mode === "shadow" ? "shadowing (coordinator rule)" : mode === "cover" ? "coordinator, covering" : w?.role === "coordinator" ? "coordinator" : "carer";
  return h(
    "li",
    { "data-worker": workerId },
    h("strong", { text: w?.name || workerId }),
    h("span", { class: "muted small", text: ` · ${role}${travel ? ` · ${travel}` : ""}` }),
    h("div", { class: "why" }, whyChips(visit, workerId)),
  );
}

/** "180–600 min after the 08:00 visit (08:00–08:30 window)" for an `after` link. */
function afterText(after) {
  const earlier = ix.visits.get(after.visit);
  const staffed = ix.assigned.get(after.visit);
  const which = !earlier
    ? after.visit
    : staffed
      ? `the ${clock(staffed.start)} visit`
      : `the unstaffed ${clock(earlier.earliest_start)}–${clock(earlier.latest_start)} visit`;
  return `starts ${after.min_minutes}–${after.max_minutes} min after ${which}`;
}

function renderDetail() {
  const visit = ix.visits.get(state.openVisit);
  const client = ix.clients.get(visit.client);
  const assignment = ix.assigned.get(visit.id);
  const reason = ix.unassigned.get(visit.id);
  const coordinatorVisits = ix.coordinatorVisits.get(visit.id) ?? [];
  $("detail-title").textContent = client.name || client.id;
  const day = dayLabel(visitDay(visit));
  const window = `${clock(visit.earliest_start)}–${clock(visit.latest_start)}${visit.late_allowed_minutes ? ` (+${visit.late_allowed_minutes} min late allowed)` : ""}`;
  const end = assignment ? ix.stopOf.get(`${assignment.workers[0]}|${visit.id}`)?.stop.end : null;
  const parts = [];
  parts.push(
    h("p", { class: "muted small", text: `${visit.id} · ${day}` }),
  );
  if (reason) parts.push(h("section", {}, h("h3", { text: "Unstaffed" }), h("p", { class: "reason", text: reason })));
  parts.push(
    h(
      "section",
      {},
      h("h3", { text: "Visit" }),
      facts([
        ["Starts", assignment ? `${clock(assignment.start)}${end ? `–${clock(end)}` : ""}` : "not staffed"],
        ["Window", window],
        ["Length", `${visit.duration_minutes} min`],
        ["Carers", visit.workers_required > 1 ? "2 (double-up, arriving together)" : "1"],
        ["Skills", (visit.skills ?? []).join(", ") || "none"],
        ["After", visit.after ? afterText(visit.after) : null],
      ]),
    ),
  );
  if (assignment || coordinatorVisits.length) {
    const covers = new Set(coordinatorVisits.filter((cv) => cv.mode === "cover").map((cv) => cv.coordinator));
    const items = (assignment?.workers ?? []).map((w) => carerItem(visit, w, covers.has(w) ? "cover" : "care"));
    for (const cv of coordinatorVisits.filter((c) => c.mode === "shadow")) items.push(carerItem(visit, cv.coordinator, "shadow"));
    parts.push(h("section", { id: "why" }, h("h3", { text: "Who goes, and why them" }), h("ul", { class: "carers" }, items)));
  }
  parts.push(
    h(
      "section",
      {},
      h("h3", { text: "Client" }),
      facts([
        ["Address", client.address || `${client.location.lat.toFixed(5)}, ${client.location.lon.toFixed(5)}`],
        ["Coordinator", client.coordinator ? nameOf(client.coordinator) : null],
        ["Preferred", (client.preferred_workers ?? []).map(nameOf).join(", ") || null],
        ["Never send", (client.excluded_workers ?? []).map(nameOf).join(", ") || null],
        ["Carers", client.gender_preference ? `${client.gender_preference} only` : null],
      ]),
    ),
  );
  parts.push(
    h(
      "section",
      { id: "care-plan" },
      h("h3", { text: "Care plan" }),
      client.care_plan ? h("p", { class: "plan", text: client.care_plan }) : h("p", { class: "muted", text: "No care plan on file." }),
    ),
  );
  parts.push(pinSection(visit));
  $("detail-body").replaceChildren(...parts);
}

/** Minutes since 1970 of a wall-clock moment, read as if it were UTC: only differences matter. */
function wallMinutes(moment) {
  const [d, t] = moment.split("T");
  const [y, m, day] = d.split("-").map(Number);
  return Date.UTC(y, m - 1, day) / 60000 + Number(t.slice(0, 2)) * 60 + Number(t.slice(3, 5));
}

/**
 * Why a worker could not be pinned to a visit (null when they could): the hard rules a pin
 * cannot override. A pin that breaks one only makes the next version infeasible.
 */
function cannotDo(visit, worker) {
  const client = ix.clients.get(visit.client);
  if ((client.excluded_workers ?? []).includes(worker.id)) return "excluded by the client";
  if (client.gender_preference && worker.gender !== client.gender_preference) return `${client.gender_preference} carers only`;
  const missing = (visit.skills ?? []).filter((k) => !(worker.skills ?? []).includes(k));
  if (missing.length) return `no ${missing.join(", ")}`;
  const earliest = wallMinutes(visit.earliest_start);
  const latest = wallMinutes(visit.latest_start) + (visit.late_allowed_minutes ?? 0);
  const fits = (worker.shifts ?? []).some((sh) => {
    const begin = Math.max(earliest, wallMinutes(sh.start));
    return begin <= latest && begin + visit.duration_minutes <= wallMinutes(sh.end);
  });
  return fits ? null : "no shift then";
}

function pinSection(visit) {
  const pinned = state.pins.get(visit.id) ?? new Set();
  const already = new Set(visit.pinned_workers ?? []);
  const room = visit.workers_required - already.size - pinned.size;
  const crew = new Set(ix.assigned.get(visit.id)?.workers ?? []);
  // Carers who can do it first, familiar ones first among them; the others say why not.
  const options = state.problem.workers
    .filter((w) => !already.has(w.id) && !pinned.has(w.id))
    .map((w) => ({ w, why: cannotDo(visit, w), familiar: isFamiliar(visit.client, w.id) }))
    .sort((a, b) => Number(a.why !== null) - Number(b.why !== null) || Number(b.familiar) - Number(a.familiar));
  const select = h(
    "select",
    { id: "pin-worker", "aria-label": "Carer to pin to this visit" },
    options.map(({ w, why, familiar }) =>
      h("option", {
        value: w.id,
        disabled: why !== null,
        text: `${w.name || w.id}${why ? ` · ${why}` : ""}${familiar ? " · familiar" : ""}${crew.has(w.id) ? " · on it now" : ""}`,
      }),
    ),
  );
  const add = h("button", {
    type: "button",
    id: "pin-add",
    text: "Pin",
    disabled: room <= 0 || options.every((o) => o.why !== null),
    onclick: () => {
      addPin(visit.id, select.value);
      renderDetail();
      $("pin-worker")?.focus();
    },
  });
  const current = [...already].map((w) => h("span", { class: "chip", text: `${nameOf(w)} (pinned in the problem)` }));
  const waiting = [...pinned].map((w) => h("span", { class: "chip chip-warn", text: `${nameOf(w)} (to pin)` }));
  return h(
    "section",
    { id: "pin" },
    h("h3", { text: "Pin a carer" }),
    h("p", { class: "muted small", text: "Pinned carers must be on this visit in the next version; re-solve from the bar above the grid." }),
    current.length || waiting.length ? h("div", { class: "why" }, current, waiting) : null,
    room > 0 ? h("div", { class: "pin-form" }, select, add) : h("p", { class: "muted small", text: "Every place on this visit is pinned." }),
  );
}

// ---------------------------------------------------------------------------------------------
// Pins, re-solve, publish

const PINS_KEY = `carerota.pins.${rotaId}`;

/** Pins waiting for a re-solve outlive a reload of the tab. */
function savePins() {
  const plain = [...state.pins].map(([visit, workers]) => [visit, [...workers]]);
  sessionStorage.setItem(PINS_KEY, JSON.stringify(plain));
}

function loadPins() {
  let plain = [];
  try {
    plain = JSON.parse(sessionStorage.getItem(PINS_KEY) ?? "[]");
  } catch {
    plain = [];
  }
  state.pins = new Map(
    plain.filter(([visit]) => ix.visits.has(visit)).map(([visit, workers]) => [visit, new Set(workers)]),
  );
}

function addPin(visitId, workerId) {
  if (!workerId) return;
  if (!state.pins.has(visitId)) state.pins.set(visitId, new Set());
  state.pins.get(visitId).add(workerId);
  savePins();
  renderPins();
}

function removePin(visitId, workerId) {
  state.pins.get(visitId)?.delete(workerId);
  if (!state.pins.get(visitId)?.size) state.pins.delete(visitId);
  savePins();
  renderPins();
  if (state.openVisit === visitId) renderDetail();
}

function renderPins() {
  const items = [];
  for (const [visitId, workers] of state.pins) {
    const v = ix.visits.get(visitId);
    for (const w of workers) {
      items.push(
        h(
          "span",
          { class: "pin", "data-visit": visitId, "data-worker": w },
          `${nameOf(w)} → ${clientName(v.client)}, ${visitWhen(v)}`,
          h("button", { type: "button", text: "✕", "aria-label": `Remove the pin of ${nameOf(w)} to ${visitId}`, onclick: () => removePin(visitId, w) }),
        ),
      );
    }
  }
  $("pin-list").replaceChildren(
    ...(items.length ? items : [h("span", { class: "muted small", text: "No pins. Open a visit to pin a carer to it, or re-solve as it is with another seed or more time." })]),
  );
  $("resolve").textContent = items.length ? `Re-solve with ${items.length} pin${items.length > 1 ? "s" : ""}` : "Re-solve as a new version";
}

async function resolve(event) {
  event.preventDefault();
  const form = event.target;
  const problem = structuredClone(state.problem);
  for (const v of problem.visits) {
    const extra = state.pins.get(v.id);
    if (extra) v.pinned_workers = [...new Set([...(v.pinned_workers ?? []), ...extra])];
  }
  const options = {
    time_limit: Number(form.time_limit.value) || undefined,
    seed: Number(form.seed.value) || 0,
    method: form.method.value,
  };
  $("resolve").disabled = true;
  try {
    const created = await api("/v1/rotas", { method: "POST", body: { parent: rotaId, problem, options } });
    sessionStorage.removeItem(PINS_KEY);
    location.assign(`/board/rotas/${encodeURIComponent(created.id)}`);
  } catch (error) {
    showError(error);
    $("resolve").disabled = false;
  }
}

async function publish() {
  $("publish").disabled = true;
  try {
    state.summary = await api(`/v1/rotas/${encodeURIComponent(rotaId)}/publish`, { method: "POST" });
    renderHeader();
    notice(`Published: this is now the agency's rota for ${dayLabel(state.summary.period.start)} – ${dayLabel(state.summary.period.end)}.`);
  } catch (error) {
    showError(error);
    renderHeader();
  }
}

async function cancel() {
  $("cancel").disabled = true;
  try {
    await api(`/v1/rotas/${encodeURIComponent(rotaId)}`, { method: "DELETE" });
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// Changes against the parent version, and absences

function crewText(attendance) {
  if (!attendance) return "unstaffed";
  const shadows = attendance.shadows.length ? ` (+ ${attendance.shadows.map(nameOf).join(", ")} shadowing)` : "";
  return `${attendance.workers.map(nameOf).join(" & ")} at ${clock(attendance.start)}${shadows}`;
}

function renderChanges() {
  const list = state.changes;
  const box = $("changes");
  box.hidden = !list;
  if (!list) return;
  const parent = state.summary.parent;
  const told = list.workers.map((w) =>
    h(
      "li",
      { "data-worker": w.worker },
      h("strong", { text: w.name || nameOf(w.worker) }),
      h("ul", { class: "messages" }, w.messages.map((m) => h("li", { text: m }))),
    ),
  );
  const visits = list.visits.map((c) => {
    const v = ix.visits.get(c.visit);
    return h(
      "li",
      {},
      h(
        "button",
        { type: "button", class: "change", "data-visit": c.visit, onclick: (e) => openVisit(c.visit, e.currentTarget) },
        h("span", { class: "when", text: v ? dayLabel(visitDay(v)) : c.visit }),
        h("span", { class: "what", text: clientName(c.client) }),
        h("span", { class: "why", text: `${crewText(c.before)} → ${crewText(c.after)}` }),
      ),
    );
  });
  const newly = list.unstaffed.filter((u) => u.newly).length;
  box.replaceChildren(
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "changes-title" }, "What changed from ", h("a", { href: `/board/rotas/${encodeURIComponent(parent)}`, text: "the previous version" })),
      h("span", { class: "muted small", text: `${list.visits.length} visits changed · ${list.workers.length} people to tell · ${newly} newly unstaffed` }),
    ),
    h(
      "div",
      { class: "changes" },
      h("section", {}, h("h3", { text: "Who must be told what" }), told.length ? h("ul", { class: "told" }, told) : h("p", { class: "muted", text: "Nobody: no one's visits changed." })),
      h("section", {}, h("h3", { text: "Visits changed" }), visits.length ? h("ul", { class: "changed-visits" }, visits) : h("p", { class: "muted", text: "None." })),
    ),
  );
}

function openAbsence() {
  const form = $("absence-form");
  form.worker.replaceChildren(...state.problem.workers.map((w) => h("option", { value: w.id, text: w.name || w.id })));
  if (state.mapWorker) form.worker.value = state.mapWorker;
  const day = state.view !== "week" ? state.view : state.problem.period.start;
  form.start.value = `${day}T00:00`;
  form.end.value = `${day}T23:59`;
  say($("absence-error"), "");
  $("absence").showModal();
}

async function recordAbsence(event) {
  event.preventDefault();
  const form = $("absence-form");
  const body = {
    worker: form.worker.value,
    start: form.start.value.slice(0, 16),
    end: form.end.value.slice(0, 16),
    reason: form.reason.value.trim(),
    time_limit: Number(form.time_limit.value) || undefined,
  };
  $("absence-submit").disabled = true;
  try {
    const created = await api("/v1/absences", { method: "POST", body });
    // Every published rota the absence touches gets a re-solve; this rota's first.
    const mine = created.resolves.find((r) => r.repairs === rotaId) ?? created.resolves[0];
    location.assign(`/board/rotas/${encodeURIComponent(mine.id)}`);
  } catch (error) {
    if (error.status === 401) toLogin();
    say($("absence-error"), error.message);
    $("absence-submit").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading

async function loadBoard() {
  const [full, problem] = await Promise.all([
    api(`/v1/rotas/${encodeURIComponent(rotaId)}`),
    api(`/board/api/rotas/${encodeURIComponent(rotaId)}/problem`),
  ]);
  state.summary = full;
  state.rota = full.rota;
  state.problem = problem;
  renderHeader();
  renderProgress(full);
  if (!full.rota) {
    if (full.status === "failed") say($("message"), `The solve failed: ${full.error ?? "no reason given"}`);
    else if (full.status === "cancelled") say($("message"), "The solve was cancelled before it made a rota.");
    return;
  }
  const [explain, changes] = await Promise.all([
    api(`/v1/rotas/${encodeURIComponent(rotaId)}/explain`),
    full.parent ? api(`/v1/rotas/${encodeURIComponent(rotaId)}/changes`) : null,
  ]);
  state.explain = explain;
  state.changes = changes;
  state.changed = new Set((changes?.visits ?? []).map((c) => c.visit));
  ix = buildIndex(problem, full.rota);
  if (full.note) notice(full.note);
  renderAttention();
  renderChanges();
  renderKpis();
  renderViews();
  renderGrid();
  renderMapControls();
  renderMap();
  renderHours();
  renderCost();
  loadPins();
  renderPins();
  $("absence-open").hidden = false;
  $("board").hidden = false;
  document.body.dataset.ready = "true";
}

/** Follow the solve until it ends; a dropped stream (a proxy, a restart) is picked up again. */
async function watch(first) {
  let last = first;
  const seen = (data) => {
    last = data;
    state.summary = data;
    renderHeader();
    renderProgress(data);
  };
  seen(first);
  for (let attempt = 0; !FINAL.has(last.status); attempt += 1) {
    try {
      await followEvents(rotaId, (name, data) => seen(data));
    } catch (error) {
      if (error.status || attempt >= 5) throw error;
    }
    if (!FINAL.has(last.status)) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      seen(await api(`/v1/rotas/${encodeURIComponent(rotaId)}`));
    }
  }
}

async function start() {
  if (!apiKey()) {
    toLogin();
    return;
  }
  $("sign-out").addEventListener("click", signOut);
  $("publish").addEventListener("click", publish);
  $("cancel").addEventListener("click", cancel);
  $("resolve-form").addEventListener("submit", resolve);
  $("detail-close").addEventListener("click", closeVisit);
  $("absence-open").addEventListener("click", openAbsence);
  $("absence-form").addEventListener("submit", recordAbsence);
  $("absence-cancel").addEventListener("click", () => $("absence").close());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("detail").hidden && !$("absence").open) closeVisit();
  });
  try {
    const first = await api(`/v1/rotas/${encodeURIComponent(rotaId)}`);
    state.summary = first;
    renderHeader();
    if (!FINAL.has(first.status)) await watch(first);
    await loadBoard();
  } catch (error) {
    if (error.status === 404) say($("message"), `No rota ${rotaId} in this agency.`);
    else showError(error);
  }
}

start();
