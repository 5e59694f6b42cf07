import { clock, dayLabel, fmt, h, plural, s } from "../api.js";
import { $, clientName, ix, nameOf, state, visitDay } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Map

export function renderMapControls() {
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

export function dayLoad(day) {
  let n = 0;
  for (const w of state.problem.workers) n += (ix.stops.get(`${w.id}|${day}`) ?? []).length;
  return n;
}

export function selectWorker(id, scroll = true) {
  state.mapWorker = id;
  $("map-worker").value = id ?? "";
  for (const row of $("grid").querySelectorAll("tr[data-worker]")) {
    row.classList.toggle("selected", row.dataset.worker === id);
  }
  renderMap();
  if (scroll && id) $("map").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

export function renderMap() {
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
    let stopNo = 0; // numbered through the whole day, across a split shift's parts
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
          s("title", {}, `${w.name || w.id}: ${plural(part.length, "visit")}, ${clock(part[0].stop.start)}–${clock(part[part.length - 1].stop.end)}`),
        ),
      );
      if (on) {
        for (const e of part) {
          stopNo += 1;
          const [x, y] = at(ix.clients.get(ix.visits.get(e.stop.visit).client).location);
          numbers.push(
            s("circle", { cx: x, cy: y - 12, r: 7, fill: colour }, s("title", {}, `${stopNo}. ${clock(e.stop.start)} ${clientName(ix.visits.get(e.stop.visit).client)}`)),
            s("text", { class: "stop-no", x, y: y - 12 }, String(stopNo)),
          );
        }
      }
    }
  }
  if (chosen) paths.sort((a, b) => Number(a.classList.contains("on")) - Number(b.classList.contains("on")));
  // With one carer chosen, everyone else's routes fade right back, so theirs reads at a glance.
  svg.classList.toggle("chosen", Boolean(chosen));
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
  const who = chosen ? `${nameOf(chosen)}'s day in order (numbers), others faint` : shown === 1 ? "1 carer's day" : `${fmt(shown)} carers' days`;
  $("map-caption").textContent = `${dayLabel(day)}: ${who}. Circles are clients (red ring: a visit unstaffed that day), squares are carers' homes.`;
}
