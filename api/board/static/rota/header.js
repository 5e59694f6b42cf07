import { dayLabel, duration, fmt, h, pct, plural, s, say, statusWords, toLogin } from "../api.js";
import { $, FINAL, state } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Header, progress and messages

export function renderHeader() {
  const sum = state.summary;
  document.title = `${sum.agency || "Rota"} ${sum.period.start} · carerota`;
  $("title").textContent = `${sum.agency || "Rota"} · ${dayLabel(sum.period.start)} – ${dayLabel(sum.period.end)}`;
  const sub = $("subtitle");
  // The reference stays reachable (hover), not in the coordinator's line.
  sub.title = sum.id;
  sub.replaceChildren(plural(sum.visits, "visit"));
  if (sum.parent) {
    sub.append(" · a changed version of ", h("a", { href: `/board/rotas/${encodeURIComponent(sum.parent)}`, title: sum.parent, text: "the earlier rota" }));
  }
  const chips = [];
  const solver = sum.solver_status;
  chips.push(h("span", { class: `chip chip-${sum.status}`, title: solver ? `optimiser: ${solver}` : "", text: statusWords(sum.status, solver) }));
  if (sum.check) {
    chips.push(
      sum.check.ok
        ? h("span", { class: "chip chip-ok", text: "every hard rule kept" })
        : h("span", { class: "chip chip-bad", text: plural(sum.check.breaches, "rule breach", "rule breaches") }),
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

export function renderProgress(sum) {
  const box = $("progress");
  box.hidden = FINAL.has(sum.status);
  if (box.hidden) return;
  const p = sum.progress;
  const limit = sum.options.time_limit || 0;
  $("progress-title").textContent = sum.status === "queued" ? "Waiting for a solver" : "Solving";
  const method = sum.options.method === "heuristic" ? "quick construction" : "optimiser";
  $("progress-what").textContent = `${plural(sum.visits, "visit")} to staff · ${method} · updated live while it works`;
  $("progress-fill").style.width = `${limit && p.elapsed ? Math.min(100, (100 * p.elapsed) / limit) : 2}%`;
  const better = state.spark.length + (p.objective !== null ? 1 : 0);
  // What a coordinator asks of a rota in progress: how many visits have a carer, how many
  // different carers each client sees, how much driving. None until the search reports them.
  const pending = p.objective === null ? "working on a first rota" : "–";
  const stats = [
    ["staffed", "Visits staffed so far", p.visits_staffed === null ? pending : `${fmt(p.visits_staffed)} of ${fmt(p.visits_total)}`],
    ["carers", "Carers per client", p.carers_per_client === null ? pending : fmt(p.carers_per_client)],
    ["travel", "Travel between visits", p.travel_minutes === null ? pending : duration(p.travel_minutes)],
    ["elapsed", "Time", p.elapsed === null ? "–" : `${fmt(p.elapsed)} s of ${fmt(limit)} s`],
  ];
  // The optimiser's own figures are for whoever wants them, folded away with their chart.
  const figures = [
    ["found", "Better rotas found", p.objective === null ? "none yet" : fmt(better)],
    ["objective", "Cost of the best rota (objective)", fmt(p.objective)],
    ["bound", "No rota can cost less than (bound)", fmt(p.bound)],
    ["gap", "Most it may still improve (gap)", p.gap === null ? "–" : pct(p.gap)],
  ];
  const row = ([key, k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { "data-stat": key, text: v }));
  const open = $("progress-details")?.open ?? false;
  $("progress-stats").replaceChildren(...stats.map(row));
  $("progress-more").replaceChildren(
    h("details", { id: "progress-details", class: "details", open }, h("summary", { text: "Details" }), h("dl", { class: "stats" }, figures.map(row)), $("spark")),
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

export function showError(error) {
  if (error.status === 401) {
    toLogin();
    return;
  }
  say($("message"), error.message);
}

export function notice(message) {
  say($("notice"), message);
}
