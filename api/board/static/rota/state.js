// The board's shared state and the indexes every part reads (built once the rota is loaded).
import { daysBetween, minuteOfDay } from "../api.js";

export const $ = (id) => document.getElementById(id);
export const FINAL = new Set(["done", "failed", "cancelled"]);
export const GOLDEN = 137.508;
export const rotaId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());

export const state = {
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
  candidates: new Map(), // visit id -> who may be pinned (the service's answer, or its promise)
};
export let ix = null; // indexes over the problem and the rota, built once they are both loaded

/** Set the indexes (other modules read ``ix`` through their import, which follows this). */
export function setIndex(value) {
  ix = value;
}

// ---------------------------------------------------------------------------------------------
// Indexes

export function buildIndex(problem, rota) {
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
  // Each client's care team (rota.teams, optional: rotas planned with teams), primary carer first.
  const teams = new Map((rota.teams ?? []).map((t) => [t.client, t.workers]));
  return {
    workers, clients, visits, clientColour, workerColour, assigned, unassigned,
    coordinatorVisits, familiar, stops, stopOf, attends, worked, days, teams, hours: hourRange(problem, rota),
  };
}

/** The index of the worker's shift holding a moment (wall-clock strings compare in order). */
export function shiftOf(worker, moment) {
  const at = moment.slice(0, 16);
  return (worker?.shifts ?? []).findIndex((sh) => sh.start.slice(0, 16) <= at && at < sh.end.slice(0, 16));
}

/** Whole hours covering every visit window and stop, so the grid wastes no width at night. */
export function hourRange(problem, rota) {
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

export const nameOf = (id) => ix.workers.get(id)?.name || id;
export const clientName = (id) => ix.clients.get(id)?.name || id;
export const isFamiliar = (client, worker) =>
  ix.familiar.has(`${client}|${worker}`) || (ix.clients.get(client)?.preferred_workers ?? []).includes(worker);
export const visitDay = (visit) => visit.earliest_start.slice(0, 10);
