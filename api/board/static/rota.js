// One rota's board: what needs attention, the key figures, the week grid, the map, hours
// against contract, and the actions (watch a solve, pin and re-solve, publish). This module
// loads the rota and wires the page; each part of the board is a module of its own in rota/.
import { api, apiKey, followEvents, say, signOut, toLogin } from "./api.js";
import { renderAttention } from "./rota/attention.js";
import { openAbsence, recordAbsence, renderAbsencePreview, renderChanges } from "./rota/changes.js";
import { closeVisit } from "./rota/detail.js";
import { renderGrid, renderViews } from "./rota/grid.js";
import { notice, renderHeader, renderProgress, showError } from "./rota/header.js";
import { renderCost, renderHours } from "./rota/hours.js";
import { renderKpis } from "./rota/kpis.js";
import { renderMap, renderMapControls } from "./rota/map.js";
import { cancel, loadPins, publish, renderPins, resolve } from "./rota/pins.js";
import { $, buildIndex, FINAL, rotaId, setIndex, state } from "./rota/state.js";

// ---------------------------------------------------------------------------------------------
// Loading

async function loadBoard() {
  const [full, problem] = await Promise.all([
    api(`/v1/rotas/${encodeURIComponent(rotaId)}`),
    api(`/board/api/rotas/${encodeURIComponent(rotaId)}/problem`),
  ]);
  state.summary = full;
  state.rota = full.rota;
  state.problem = problem;
  renderHeader();
  renderProgress(full);
  if (!full.rota) {
    if (full.status === "failed") say($("message"), `The solve failed: ${full.error ?? "no reason given"}`);
    else if (full.status === "cancelled") say($("message"), "The solve was cancelled before it made a rota.");
    return;
  }
  const [explain, changes] = await Promise.all([
    api(`/v1/rotas/${encodeURIComponent(rotaId)}/explain`),
    full.parent ? api(`/v1/rotas/${encodeURIComponent(rotaId)}/changes`) : null,
  ]);
  state.explain = explain;
  state.changes = changes;
  state.changed = new Set((changes?.visits ?? []).map((c) => c.visit));
  setIndex(buildIndex(problem, full.rota));
  if (full.note) notice(full.note);
  renderAttention();
  renderChanges();
  renderKpis();
  renderViews();
  renderGrid();
  renderMapControls();
  renderMap();
  renderHours();
  renderCost();
  loadPins();
  renderPins();
  $("absence-open").hidden = false;
  $("board").hidden = false;
  document.body.dataset.ready = "true";
}

/** Follow the solve until it ends; a dropped stream (a proxy, a restart) is picked up again. */
async function watch(first) {
  let last = first;
  const seen = (data) => {
    last = data;
    state.summary = data;
    renderHeader();
    renderProgress(data);
  };
  seen(first);
  for (let attempt = 0; !FINAL.has(last.status); attempt += 1) {
    try {
      await followEvents(rotaId, (name, data) => seen(data));
    } catch (error) {
      if (error.status || attempt >= 5) throw error;
    }
    if (!FINAL.has(last.status)) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      seen(await api(`/v1/rotas/${encodeURIComponent(rotaId)}`));
    }
  }
}

async function start() {
  if (!apiKey()) {
    toLogin();
    return;
  }
  $("sign-out").addEventListener("click", signOut);
  $("publish").addEventListener("click", publish);
  $("cancel").addEventListener("click", cancel);
  $("resolve-form").addEventListener("submit", resolve);
  $("detail-close").addEventListener("click", closeVisit);
  $("absence-open").addEventListener("click", openAbsence);
  $("absence-form").addEventListener("submit", recordAbsence);
  $("absence-form").addEventListener("input", renderAbsencePreview);
  $("absence-cancel").addEventListener("click", () => $("absence").close());
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("detail").hidden && !$("absence").open) closeVisit();
  });
  try {
    const first = await api(`/v1/rotas/${encodeURIComponent(rotaId)}`);
    state.summary = first;
    renderHeader();
    if (!FINAL.has(first.status)) await watch(first);
    await loadBoard();
  } catch (error) {
    if (error.status === 404) say($("message"), `No rota ${rotaId} in this agency.`);
    else showError(error);
  }
}

start();
