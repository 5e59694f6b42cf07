// Shared by the board's pages: the agency key, calls to the /v1 API, the event stream, and
// small DOM helpers. Every text reaches the page through textContent, never as markup.

const KEY = "carerota.key";

export function apiKey() {
  return sessionStorage.getItem(KEY);
}

export function setApiKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function signOut() {
  sessionStorage.removeItem(KEY);
  location.assign("/board/");
}

/** The sign-in page, coming back here afterwards. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/board/?next=${encodeURIComponent(next)}`);
}

export class ApiError extends Error {
  constructor(status, body) {
    const info = (body && body.error) || {};
    super(info.message || `the service answered ${status}`);
    this.status = status;
    this.code = info.code || "error";
    this.details = info.details || [];
  }
}

/** JSON from the API with the agency's key; an ApiError (the service's own message) otherwise. */
export async function api(path, { method = "GET", body, key = apiKey(), signal } = {}) {
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    signal,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/**
 * Follow a rota's server-sent events until the final one. EventSource cannot send the key in a
 * header, so the stream is read with fetch; `onEvent(name, data)` gets each event.
 */
export async function followEvents(rotaId, onEvent, signal) {
  const response = await fetch(`/v1/rotas/${encodeURIComponent(rotaId)}/events`, {
    headers: { Authorization: `Bearer ${apiKey()}`, Accept: "text/event-stream" },
    signal,
  });
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    throw new ApiError(response.status, data);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const lines = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) lines.push(line.slice(5).trimStart());
      }
      if (lines.length) onEvent(name, JSON.parse(lines.join("\n")));
    }
  }
}

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A phone number as a link a phone dials: its leading + and digits (solver/contract.py tel_uri). */
export function telLink(phone) {
  const number = (phone.startsWith("+") ? "+" : "") + phone.replace(/\D/g, "");
  return h("a", { href: `tel:${number}`, class: "tel", text: phone });
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children. */
export function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.setAttribute("class", value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const number = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 });
export const fmt = (value) => (value === null || value === undefined ? "–" : number.format(value));
/** "1 visit", "3 visits", "2 people" (`many` for a plural that is not word + s): solver/words.py. */
export const plural = (count, word, many) => `${fmt(count)} ${count === 1 ? word : many ?? `${word}s`}`;

/** A rota job's state as a coordinator says it (the optimiser's own status goes in details). */
export function statusWords(status, solverStatus) {
  if (status === "done") return solverStatus === "optimal" ? "ready, the best possible" : "ready";
  return { queued: "waiting to start", solving: "being made", cancelled: "cancelled, best rota kept", failed: "failed" }[status] ?? status;
}

/** Minutes as a coordinator reads them: "45 min", "3 h 05 min". */
export function duration(minutes) {
  const total = Math.round(minutes);
  if (total < 60) return `${total} min`;
  return `${Math.floor(total / 60)} h ${String(total % 60).padStart(2, "0")} min`;
}

export const pct = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);

const DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "Mon 30 Nov" for "2026-11-30" (a calendar date, so no time zone can shift it). */
export function dayLabel(day) {
  const [y, m, d] = day.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return `${DAY_NAMES[weekday]} ${d} ${MONTHS[m - 1]}`;
}

/** The dates from `start` to `end` inclusive, as "YYYY-MM-DD". */
export function daysBetween(start, end) {
  const out = [];
  const [y, m, d] = start.split("-").map(Number);
  for (let t = Date.UTC(y, m - 1, d); ; t += 86400000) {
    const day = new Date(t).toISOString().slice(0, 10);
    if (day > end) return out;
    out.push(day);
  }
}

/** "HH:MM" of a local wall-clock datetime "YYYY-MM-DDTHH:MM[:SS]". */
export const clock = (moment) => moment.slice(11, 16);

/** Minutes since local midnight of the moment's own day. */
export function minuteOfDay(moment) {
  return Number(moment.slice(11, 13)) * 60 + Number(moment.slice(14, 16));
}

export function when(timestamp) {
  if (!timestamp) return "–";
  const t = new Date(timestamp.endsWith("Z") || timestamp.includes("+") ? timestamp : `${timestamp}Z`);
  return t.toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
}

/** Show a message in an element that is hidden when empty. */
export function say(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}
