import { api, dayLabel, h, s } from "../api.js";
import { visitWhen } from "./attention.js";
import { renderDetail } from "./detail.js";
import { notice, renderHeader, showError } from "./header.js";
import { $, clientName, ix, nameOf, rotaId, state } from "./state.js";

// ---------------------------------------------------------------------------------------------
// Pins, re-solve, publish

export const PINS_KEY = `carerota.pins.${rotaId}`;

/** Pins waiting for a re-solve outlive a reload of the tab. */
export function savePins() {
  const plain = [...state.pins].map(([visit, workers]) => [visit, [...workers]]);
  sessionStorage.setItem(PINS_KEY, JSON.stringify(plain));
}

export function loadPins() {
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

export function addPin(visitId, workerId) {
  if (!workerId) return;
  if (!state.pins.has(visitId)) state.pins.set(visitId, new Set());
  state.pins.get(visitId).add(workerId);
  savePins();
  renderPins();
}

export function removePin(visitId, workerId) {
  state.pins.get(visitId)?.delete(workerId);
  if (!state.pins.get(visitId)?.size) state.pins.delete(visitId);
  savePins();
  renderPins();
  if (state.openVisit === visitId) renderDetail();
}

export function renderPins() {
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

export async function resolve(event) {
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

export async function publish() {
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

export async function cancel() {
  $("cancel").disabled = true;
  try {
    await api(`/v1/rotas/${encodeURIComponent(rotaId)}`, { method: "DELETE" });
  } catch (error) {
    showError(error);
  }
}
