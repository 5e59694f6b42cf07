import { fmt, h, pct } from "../api.js";
import { $, ix, state } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Hours and cost

export function renderHours() {
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

export function renderCost() {
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
    // The optimiser's own number, for whoever asks: the shares above are what a coordinator reads.
    h(
      "details",
      { class: "details", id: "cost-details" },
      h("summary", { class: "muted small", text: "Details" }),
      h("p", { class: "muted small", text: `Objective ${fmt(state.explain.objective)}; each unstaffed visit costs ${fmt(state.problem.weights?.unassigned_visit ?? 10000)}.` }),
    ),
  );
}
