import { clock, dayLabel, h } from "../api.js";
import { openVisit } from "./detail.js";
import { $, clientName, ix, nameOf, state, visitDay } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Needs attention

export function visitWhen(visit) {
  const a = ix.assigned.get(visit.id);
  const day = dayLabel(visitDay(visit));
  if (a) return `${day} ${clock(a.start)}`;
  return `${day} ${clock(visit.earliest_start)}–${clock(visit.latest_start)}`;
}

export function renderAttention() {
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
