import { api, clock, dayLabel, fmt, h, minuteOfDay, plural, s, telLink } from "../api.js";
import { markActive } from "./grid.js";
import { addPin } from "./pins.js";
import { $, clientName, ix, nameOf, rotaId, state, visitDay } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Visit detail

export function openVisit(id, opener) {
  state.openVisit = id;
  if (opener) state.opener = opener;
  renderDetail();
  $("detail").hidden = false;
  markActive();
  $("detail-close").focus();
}

export function closeVisit() {
  state.openVisit = null;
  $("detail").hidden = true;
  markActive();
  if (state.opener && document.body.contains(state.opener)) state.opener.focus();
  state.opener = null;
}

export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]),
  );
}

export function whyChips(visit, workerId) {
  const client = ix.clients.get(visit.client);
  const chips = [];
  const before = ix.familiar.get(`${client.id}|${workerId}`) ?? 0;
  if (before) chips.push(h("span", { class: "chip chip-ok", text: `familiar: ${plural(before, "visit")} before` }));
  if ((client.preferred_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip chip-ok", text: "preferred by the client" }));
  if (!before && !(client.preferred_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip chip-warn", text: "new to this client" }));
  const team = ix.teams.get(client.id) ?? [];
  if (team[0] === workerId) chips.push(h("span", { class: "chip chip-ok", text: "primary carer in the care team" }));
  else if (team.includes(workerId)) chips.push(h("span", { class: "chip chip-ok", text: "in the care team" }));
  if ((visit.pinned_workers ?? []).includes(workerId)) chips.push(h("span", { class: "chip", text: "pinned" }));
  const week = ix.attends.get(`${client.id}|${workerId}`) ?? 0;
  if (week > 1) chips.push(h("span", { class: "chip", text: `${week} of this client's visits this period` }));
  return chips;
}

/** The client's care team by name, primary carer first and marked; null when the rota has none. */
function careTeam(clientId) {
  const team = ix.teams.get(clientId);
  if (!team?.length) return null;
  return h(
    "span",
    { id: "care-team" },
    team.flatMap((w, i) => [i ? ", " : "", h("span", { class: "member", "data-worker": w, text: i === 0 ? `${nameOf(w)} (primary)` : nameOf(w) })]),
  );
}

export function carerItem(visit, workerId, mode) {
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

/**
 * Each carer the client prefers who is not on the visit, and why not: a rule keeps them off
 * (the service's answer), they are at another visit then, or they were free and sending them
 * would have cost more than it gave.
 */
export function preferredNotSent(visit) {
  const client = ix.clients.get(visit.client);
  const crew = new Set(ix.assigned.get(visit.id)?.workers ?? []);
  const known = candidates(visit);
  const rules = Array.isArray(known) ? new Map(known.map((c) => [c.worker, c.why])) : null;
  const start = ix.assigned.get(visit.id)?.start ?? visit.earliest_start;
  const from = minuteOfDay(start);
  const to = from + visit.duration_minutes;
  return (client.preferred_workers ?? [])
    .filter((w) => !crew.has(w) && ix.workers.has(w))
    .map((w) => {
      let why;
      if (rules === null) why = "checking…";
      else if (rules.get(w)) why = rules.get(w);
      else {
        const busy = (ix.stops.get(`${w}|${visitDay(visit)}`) ?? [])
          .map((e) => e.stop)
          .find((st) => minuteOfDay(st.start) < to && minuteOfDay(st.end) > from);
        why = busy
          ? `at ${clientName(ix.visits.get(busy.visit).client)} ${clock(busy.start)}–${clock(busy.end)}`
          : "free then, but sending them would have cost more (travel, hours or another client's carer)";
      }
      return h("li", { "data-worker": w }, h("strong", { text: nameOf(w) }), h("span", { class: "muted small", text: ` · ${why}` }));
    });
}

/** "180–600 min after the 08:00 visit (08:00–08:30 window)" for an `after` link. */
export function afterText(after) {
  const earlier = ix.visits.get(after.visit);
  const staffed = ix.assigned.get(after.visit);
  const which = !earlier
    ? after.visit
    : staffed
      ? `the ${clock(staffed.start)} visit`
      : `the unstaffed ${clock(earlier.earliest_start)}–${clock(earlier.latest_start)} visit`;
  return `starts ${after.min_minutes}–${after.max_minutes} min after ${which}`;
}

export function renderDetail() {
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
  parts.push(h("p", { class: "muted small", text: day }));
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
        ["Reference", visit.id],
      ]),
    ),
  );
  if (assignment || coordinatorVisits.length) {
    const covers = new Set(coordinatorVisits.filter((cv) => cv.mode === "cover").map((cv) => cv.coordinator));
    const items = (assignment?.workers ?? []).map((w) => carerItem(visit, w, covers.has(w) ? "cover" : "care"));
    for (const cv of coordinatorVisits.filter((c) => c.mode === "shadow")) items.push(carerItem(visit, cv.coordinator, "shadow"));
    parts.push(h("section", { id: "why" }, h("h3", { text: "Who goes, and why them" }), h("ul", { class: "carers" }, items)));
  }
  const absent = preferredNotSent(visit);
  if (absent.length) parts.push(h("section", { id: "preferred" }, h("h3", { text: "Preferred, not sent" }), h("ul", { class: "carers" }, absent)));
  parts.push(
    h(
      "section",
      {},
      h("h3", { text: "Client" }),
      facts([
        ["Address", client.address || `${client.location.lat.toFixed(5)}, ${client.location.lon.toFixed(5)}`],
        ["Phone", client.phone ? telLink(client.phone) : null],
        ["Care team", careTeam(client.id)],
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

/**
 * Who may be pinned to a visit, by the solver's own rule (the service answers, so the board never
 * disagrees with the rota it will ask for): every worker, eligible or not and why, familiar or not.
 * A pin that breaks a hard rule would only make the next version infeasible.
 */
function candidates(visit) {
  const known = state.candidates.get(visit.id);
  if (known) return known;
  const asked = api(
    `/board/api/rotas/${encodeURIComponent(rotaId)}/visits/${encodeURIComponent(visit.id)}/candidates`,
  ).then((body) => {
    state.candidates.set(visit.id, body.workers);
    if (state.openVisit === visit.id) renderDetail();
    return body.workers;
  });
  state.candidates.set(visit.id, asked);
  return asked;
}

export function pinSection(visit) {
  const pinned = state.pins.get(visit.id) ?? new Set();
  const already = new Set(visit.pinned_workers ?? []);
  const room = visit.workers_required - already.size - pinned.size;
  const crew = new Set(ix.assigned.get(visit.id)?.workers ?? []);
  // Carers who can do it first, familiar ones first among them (the service's order); the
  // others say why not. Until the service has answered, the list says it is coming.
  const known = candidates(visit);
  const options = Array.isArray(known) ? known.filter((c) => !already.has(c.worker) && !pinned.has(c.worker)) : null;
  const select = h(
    "select",
    { id: "pin-worker", "aria-label": "Carer to pin to this visit", disabled: options === null },
    options === null
      ? [h("option", { text: "Finding who can do it…" })]
      : options.map((c) =>
          h("option", {
            value: c.worker,
            disabled: !c.eligible,
            text: `${c.name || c.worker}${c.why ? ` · ${c.why}` : ""}${c.familiar ? " · familiar" : ""}${crew.has(c.worker) ? " · on it now" : ""}`,
          }),
        ),
  );
  const add = h("button", {
    type: "button",
    id: "pin-add",
    text: "Pin",
    disabled: room <= 0 || options === null || options.every((c) => !c.eligible),
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
