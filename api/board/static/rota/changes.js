import { api, clock, dayLabel, fmt, h, plural, say, toLogin } from "../api.js";
import { openVisit } from "./detail.js";
import { $, clientName, ix, nameOf, rotaId, state, visitDay } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Changes against the parent version, and absences

export function crewText(attendance) {
  if (!attendance) return "unstaffed";
  const shadows = attendance.shadows.length ? ` (+ ${attendance.shadows.map(nameOf).join(", ")} shadowing)` : "";
  return `${attendance.workers.map(nameOf).join(" & ")} at ${clock(attendance.start)}${shadows}`;
}

export function renderChanges() {
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
      h("span", { class: "muted small", text: `${plural(list.visits.length, "visit")} changed · ${plural(list.workers.length, "person", "people")} to tell · ${fmt(newly)} newly unstaffed` }),
    ),
    h(
      "div",
      { class: "changes" },
      h("section", {}, h("h3", { text: "Who must be told what" }), told.length ? h("ul", { class: "told" }, told) : h("p", { class: "muted", text: "Nobody: no one's visits changed." })),
      h("section", {}, h("h3", { text: "Visits changed" }), visits.length ? h("ul", { class: "changed-visits" }, visits) : h("p", { class: "muted", text: "None." })),
    ),
  );
}

/** The agency's wall-clock time now, "YYYY-MM-DDTHH:MM", in the rota's timezone. */
export function agencyNow() {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: state.problem.timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    })
      .formatToParts(new Date())
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

export function openAbsence() {
  const form = $("absence-form");
  form.worker.replaceChildren(...state.problem.workers.map((w) => h("option", { value: w.id, text: w.name || w.id })));
  if (state.mapWorker) form.worker.value = state.mapWorker;
  const day = state.view !== "week" ? state.view : state.problem.period.start;
  form.start.value = `${day}T00:00`;
  form.end.value = `${day}T23:59`;
  form.now.value = agencyNow();
  say($("absence-error"), "");
  renderAbsencePreview();
  $("absence").showModal();
}

/**
 * What the absence would take from the carer in this rota, before it is sent: their visits from
 * now (or its start, if later) until it ends. Whether it can be recorded at all is the service's
 * to say, in the same words as the command line's, once it is sent.
 */
export function renderAbsencePreview() {
  const form = $("absence-form");
  const worker = form.worker.value;
  const now = form.now.value.slice(0, 16);
  const from = form.start.value.slice(0, 16);
  const until = form.end.value.slice(0, 16);
  const preview = $("absence-preview");
  if (!worker || !from || !until || !now || until <= from) {
    preview.replaceChildren();
    return;
  }
  const begins = from > now ? from : now;
  const orphans = state.rota.routes
    .filter((r) => r.worker === worker)
    .flatMap((r) => r.stops)
    .filter((stop) => stop.start.slice(0, 16) >= begins && stop.start.slice(0, 16) < until)
    .sort((a, b) => (a.start < b.start ? -1 : 1));
  const who = nameOf(worker);
  const items = orphans.map((stop) => {
    const visit = ix.visits.get(stop.visit);
    return h("li", { "data-visit": stop.visit, text: `${dayLabel(stop.start.slice(0, 10))} ${clock(stop.start)}: ${clientName(visit.client)}` });
  });
  preview.replaceChildren(
    h("p", {
      text: `Now is ${dayLabel(now.slice(0, 10))} ${clock(now)}. ${
        orphans.length === 0
          ? `${who} has no visits in this rota between then and the end of the absence.`
          : `${who} would lose ${orphans.length === 1 ? "this visit" : `these ${orphans.length} visits`}; the re-solve looks for other carers:`
      }`,
    }),
    orphans.length ? h("ul", { class: "orphans" }, items) : null,
  );
}

export async function recordAbsence(event) {
  event.preventDefault();
  const form = $("absence-form");
  const body = {
    worker: form.worker.value,
    start: form.start.value.slice(0, 16),
    end: form.end.value.slice(0, 16),
    now: form.now.value.slice(0, 16),
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
    // The service's refusal, word for word as the command line gives it.
    say($("absence-error"), error.message);
    $("absence-submit").disabled = false;
  }
}
