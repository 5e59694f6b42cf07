import { clock, dayLabel, fmt, h, minuteOfDay, plural } from "../api.js";
import { openVisit } from "./detail.js";
import { meterFill } from "./kpis.js";
import { renderMap, selectWorker } from "./map.js";
import { $, clientName, isFamiliar, ix, nameOf, state, visitDay } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Week grid

export function lanePosition(node, startMinute, minutes) {
  const { from, to } = ix.hours;
  const span = to - from;
  node.style.left = `${(100 * (startMinute - from)) / span}%`;
  node.style.width = `${(100 * minutes) / span}%`;
}

/**
 * A client's short label for a narrow block: "C23" for "Client 23", "MP" for "Mrs Patel".
 * Blocks show the full name where it fits and this where it does not (CSS container queries).
 */
export function initials(name) {
  const words = name.split(/\s+/).filter(Boolean);
  if (words.length === 2 && /^\d+$/.test(words[1])) return `${words[0][0]}${words[1]}`;
  return words.map((w) => w[0]).join("").slice(0, 3).toUpperCase();
}

export function visitBlock(worker, entry, dayView) {
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
  // One colour per client cannot be told apart at agency size: colour says whether the client
  // knows this carer instead (shadow visits keep their hatching).
  if (!shadow) classes.push(isFamiliar(visit.client, worker.id) ? "familiar" : "unfamiliar");
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
    h(
      "span",
      { class: "line name" },
      h("span", { class: "full", text: shadow ? `◌ ${client}` : client }),
      h("span", { class: "short", text: shadow ? `◌${initials(client)}` : initials(client) }),
    ),
    dayView && partner ? h("span", { class: "line partner", text: partner }) : null,
  );
  const end = stop.end.slice(0, 10) > stop.start.slice(0, 10) ? 24 * 60 : minuteOfDay(stop.end);
  lanePosition(block, start, Math.max(end - start, 1));
  const parts = [block];
  if (stop.travel_minutes_before > 0) {
    const line = h("span", { class: "travel", "aria-hidden": "true" });
    lanePosition(line, start - stop.travel_minutes_before, stop.travel_minutes_before);
    parts.unshift(line);
  }
  return parts;
}

export function shiftBands(worker, day) {
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

export function workerRow(worker, days, dayView) {
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
    const entries = ix.stops.get(`${worker.id}|${day}`) ?? [];
    const lane = h("div", { class: "lane" }, shiftBands(worker, day));
    for (const entry of entries) lane.append(...visitBlock(worker, entry, dayView));
    // A week's blocks are a few pixels wide: under them, the day's clients in visiting order,
    // by initials, coloured like their blocks, so the week reads without opening each day.
    const order = dayView
      ? null
      : h(
          "div",
          { class: "order", "aria-hidden": "true" },
          entries
            .filter((e) => e.stop.mode !== "shadow")
            .map((e) => {
              const client = ix.visits.get(e.stop.visit).client;
              const known = isFamiliar(client, worker.id) ? "familiar" : "unfamiliar";
              return h("span", { class: known, title: `${clock(e.stop.start)} ${clientName(client)}`, text: initials(clientName(client)) });
            }),
        );
    return h("td", {}, lane, order);
  });
  return h("tr", { "data-worker": worker.id, class: state.mapWorker === worker.id ? "selected" : "" }, head, cells);
}

// An unstaffed block's least width in a day (board.css, .visit.unstaffed) and the names column
// beside the day's (at most --name-col), in CSS pixels.
const LABEL_PX = 40;
const NAME_COLUMN_PX = 184;

/** A client's name where it fits in its block and initials where it does not (as a carer's). */
function nameLabel(client) {
  return h("span", { class: "line name" }, h("span", { class: "full", text: client }), h("span", { class: "short", text: initials(client) }));
}

/**
 * The unstaffed visits by day. In a day, each sits at its window (name or initials, whichever
 * fits). In the week a window is a few pixels wide, too narrow for any label, so each day lists
 * its unstaffed visits instead: window start and initials, readable, in time order.
 */
export function unstaffedRow(days, dayView) {
  const head = h(
    "th",
    { scope: "row", class: "who" },
    h("span", { class: "who-name", text: "Unstaffed" }),
    h("span", { class: "who-meta", text: `${plural(state.rota.unassigned.length, "visit")}${dayView ? ", at their windows" : ""}` }),
  );
  const cells = days.map((day) => {
    const items = state.rota.unassigned
      .map((u) => ix.visits.get(u.visit))
      .filter((v) => visitDay(v) === day)
      .sort((a, b) => a.earliest_start.localeCompare(b.earliest_start));
    const block = (v, extra, ...children) => {
      const client = clientName(v.client);
      const label = `Unstaffed: ${client}, window ${clock(v.earliest_start)}–${clock(v.latest_start)}, ${v.duration_minutes} min · ${ix.unassigned.get(v.id)}`;
      return h(
        "button",
        { type: "button", class: `visit unstaffed ${extra}`, "data-visit": v.id, "aria-label": label, title: label, onclick: (e) => openVisit(v.id, e.currentTarget) },
        ...children,
      );
    };
    if (!dayView) {
      const list = items.map((v) => block(v, "listed", h("span", { class: "line name", text: `${clock(v.earliest_start)} ${initials(clientName(v.client))}` })));
      return h("td", {}, h("div", { class: "unstaffed-list" }, list));
    }
    // A block is at least wide enough for initials (CSS min-width), which on a phone is more
    // than a short window: lanes are packed by what is drawn. The day's one column is the card
    // less the names column.
    const cellPx = Math.max(100, $("grid-card").clientWidth - NAME_COLUMN_PX);
    const labelMinutes = (LABEL_PX * (ix.hours.to - ix.hours.from)) / cellPx;
    const laneEnds = [];
    const lane = h("div", { class: "lane" });
    for (const v of items) {
      const from = minuteOfDay(v.earliest_start);
      const to = minuteOfDay(v.latest_start) + v.duration_minutes;
      let row = laneEnds.findIndex((end) => end <= from);
      if (row < 0) row = laneEnds.push(0) - 1;
      laneEnds[row] = Math.max(to, from + labelMinutes);
      const node = block(v, "", nameLabel(clientName(v.client)));
      lanePosition(node, from, to - from);
      node.style.top = `${3 + row * 22}px`;
      node.style.height = "19px";
      node.style.bottom = "auto";
      lane.append(node);
    }
    lane.style.height = `${Math.max(1, laneEnds.length) * 22 + 6}px`;
    return h("td", {}, lane);
  });
  return h("tr", { class: "unstaffed-row" }, head, cells);
}

export function hourAxis() {
  const { from, to } = ix.hours;
  const axis = h("span", { class: "hours-axis", "aria-hidden": "true" });
  for (let m = from; m < to; m += 180) {
    const mark = h("span", { text: hhmm(m).slice(0, 2) });
    mark.style.left = `${(100 * (m - from)) / (to - from)}%`;
    axis.append(mark);
  }
  return axis;
}

export function renderGrid() {
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
  if (state.rota.unassigned.length) rows.push(unstaffedRow(days, dayView));
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

export function renderViews() {
  const buttons = [h("button", { type: "button", "data-view": "week", text: "Week", onclick: () => setView("week") })];
  for (const day of ix.days) {
    buttons.push(h("button", { type: "button", "data-view": day, text: dayLabel(day).slice(0, 6).trim(), title: dayLabel(day), onclick: () => setView(day) }));
  }
  $("views").replaceChildren(...buttons);
  const sw = (cls, text) => h("span", {}, h("span", { class: `swatch visit-swatch ${cls}` }), text);
  $("legend").replaceChildren(
    h("span", { text: `Each day ${hhmm(ix.hours.from)}–${hhmm(ix.hours.to)}; clients by initials where names do not fit` }),
    sw("familiar", "a carer the client knows"),
    sw("unfamiliar", "a carer new to the client"),
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

export function hhmm(minute) {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

export function setView(view) {
  state.view = view;
  renderGrid();
  if (view !== "week") {
    $("map-day").value = view;
    renderMap();
  }
}

export function markActive() {
  for (const node of document.querySelectorAll(".visit.active")) node.classList.remove("active");
  const id = state.openVisit;
  if (!id) return;
  for (const node of document.querySelectorAll(".visit")) {
    if (node.dataset.visit === id) node.classList.add("active");
  }
}
