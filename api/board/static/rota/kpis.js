import { fmt, h, pct, plural } from "../api.js";
import { $, ix, state } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Key figures

export function kpi(label, value, sub, { tone = "", meter = null, id = "" } = {}) {
  return h(
    "div",
    { class: `kpi ${tone}`, id: id || null },
    h("div", { class: "label", text: label }),
    h("div", { class: "value" }, value),
    meter === null ? null : h("div", { class: "meter" }, meterFill(meter)),
    h("div", { class: "sub", text: sub }),
  );
}

export function meterFill(share) {
  const div = h("div");
  div.style.width = `${Math.max(0, Math.min(1, share)) * 100}%`;
  return div;
}

export function renderKpis() {
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
      `${fmt(short.size)} short · ${fmt(seen.size)} of ${plural(overseen.length, "client")} seen by their coordinator this period`,
      { tone: short.size ? "kpi-warn" : "", meter: coverage, id: "kpi-coordinator" },
    ),
    kpi(
      "Contract hours",
      pct(contracted ? workedOnContract / contracted : 1),
      `of contracted hours worked · ${plural(under, "carer")} more than 10% short`,
      { tone: under ? "kpi-warn" : "", meter: contracted ? workedOnContract / contracted : 1, id: "kpi-contract" },
    ),
  ];
  $("kpis").replaceChildren(...cards);
}
