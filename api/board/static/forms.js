// Forms for the agency's records (carers, clients, care packages), shared by the records page
// and a client's page. Each form turns a record into fields and back; the service checks it and
// its 422 names the field, which is shown beside that field.
import { api, h, say } from "./api.js";

export const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_LABELS = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };

const list = (text) => text.split(/[;,]/).map((x) => x.trim()).filter(Boolean);
const joined = (values) => (values || []).join("; ");
const numberOrNull = (text) => (text.trim() === "" ? null : Number(text));

function field(label, input, { wide = false, hint = "" } = {}) {
  return h("div", { class: `field${wide ? " wide" : ""}` }, h("label", { for: input.id, text: label }), input,
    hint ? h("span", { class: "muted small", text: hint }) : null);
}

let counter = 0;
function input(name, value, attrs = {}) {
  counter += 1;
  return h("input", { id: `f-${name}-${counter}`, name, value: value ?? "", ...attrs });
}

/** "07:00-10:00; 17:00-21:00" for the day's stretches of a worker's availability. */
function dayHours(worker, day) {
  return (worker.availability || []).filter((a) => a.day === day).map((a) => `${a.start}-${a.end}`).join("; ");
}

function parseHours(day, text) {
  return list(text).map((piece) => {
    const [start, end] = piece.split("-").map((x) => x.trim());
    return { day, start, end };
  });
}

/** A form for a carer or coordinator; `read()` gives the record to send. */
export function workerForm(worker = {}) {
  const f = {
    id: input("id", worker.id, { required: true, readonly: worker.id ? true : null }),
    name: input("name", worker.name),
    role: h("select", { id: `f-role-${++counter}`, name: "role" },
      h("option", { value: "carer", text: "Carer", selected: worker.role !== "coordinator" }),
      h("option", { value: "coordinator", text: "Coordinator", selected: worker.role === "coordinator" })),
    areas: input("areas", joined(worker.areas)),
    skills: input("skills", joined(worker.skills)),
    gender: input("gender", worker.gender),
    lat: input("lat", worker.home?.lat, { type: "number", step: "any", required: true }),
    lon: input("lon", worker.home?.lon, { type: "number", step: "any", required: true }),
    travel: h("select", { id: `f-travel-${++counter}`, name: "travel_mode" },
      ...["car", "walk", "bike", "public_transport"].map((m) =>
        h("option", { value: m, text: m.replace("_", " "), selected: (worker.travel_mode || "car") === m }))),
    contracted: input("contracted_hours_per_week", worker.contracted_hours_per_week, { type: "number", step: "0.5" }),
    maxWeek: input("max_hours_per_week", worker.max_hours_per_week, { type: "number", step: "0.5" }),
    maxDay: input("max_hours_per_day", worker.max_hours_per_day, { type: "number", step: "0.5" }),
    phone: input("phone", worker.phone, { type: "tel" }),
  };
  const hours = Object.fromEntries(DAYS.map((d) => [d, input(`hours-${d}`, dayHours(worker, d), { placeholder: "07:00-14:00" })]));
  const away = [...(worker.away || [])];
  const awayList = h("ul", { class: "plain away-list" });
  const drawAway = () => awayList.replaceChildren(...away.map((a, i) => h("li", {},
    `${a.start} to ${a.end}: ${a.reason}`,
    h("button", { type: "button", class: "quiet small", text: "Remove", onclick: () => { away.splice(i, 1); drawAway(); } }))));
  drawAway();
  const awayFrom = input("away-from", "", { type: "date" });
  const awayTo = input("away-to", "", { type: "date" });
  const awayWhy = h("select", { id: `f-away-why-${++counter}`, name: "away-reason" },
    ...["leave", "training", "sickness", "other"].map((r) => h("option", { value: r, text: r })));
  const addAway = h("button", { type: "button", class: "quiet", text: "Add time away", onclick: () => {
    if (!awayFrom.value) return;
    away.push({ start: awayFrom.value, end: awayTo.value || awayFrom.value, reason: awayWhy.value });
    awayFrom.value = ""; awayTo.value = "";
    drawAway();
  } });
  const node = h("div", { class: "record-form" },
    h("div", { class: "new-form" },
      field("Reference", f.id, { hint: "short, no spaces, e.g. w017" }), field("Name", f.name, { wide: true }), field("Role", f.role),
      field("Areas", f.areas, { hint: "separated by ;, empty: every area" }),
      field("Skills", f.skills, { wide: true, hint: "e.g. medication; hoist" }), field("Gender", f.gender),
      field("Phone", f.phone, { hint: "e.g. 0113 496 0500" }),
      field("Home latitude", f.lat), field("Home longitude", f.lon), field("Travels by", f.travel),
      field("Contracted hours a week", f.contracted), field("Most hours a week", f.maxWeek),
      field("Most hours a day", f.maxDay)),
    h("h3", { text: "Usual hours" }),
    h("div", { class: "new-form" }, ...DAYS.map((d) => field(DAY_LABELS[d], hours[d]))),
    h("h3", { text: "Time away (leave, training, sickness)" }),
    awayList,
    h("div", { class: "new-form" }, field("From", awayFrom), field("To", awayTo), field("Why", awayWhy), h("div", { class: "field" }, addAway)),
  );
  const read = () => {
    const body = {
      id: f.id.value.trim(),
      role: f.role.value,
      areas: list(f.areas.value),
      home: { lat: Number(f.lat.value), lon: Number(f.lon.value) },
      travel_mode: f.travel.value,
      skills: list(f.skills.value),
      availability: DAYS.flatMap((d) => parseHours(d, hours[d].value)),
      away,
    };
    if (f.name.value.trim()) body.name = f.name.value.trim();
    if (f.gender.value.trim()) body.gender = f.gender.value.trim();
    if (f.phone.value.trim()) body.phone = f.phone.value.trim();
    for (const [key, el] of [["contracted_hours_per_week", f.contracted], ["max_hours_per_week", f.maxWeek], ["max_hours_per_day", f.maxDay]]) {
      const value = numberOrNull(el.value);
      if (value !== null) body[key] = value;
    }
    return body;
  };
  return { node, read };
}

/** A select of workers by name (several with `multiple`), with `chosen` ids selected. */
function workerSelect(name, workers, chosen, { multiple = false, blank = "" } = {}) {
  const options = workers.map((w) => h("option", { value: w.id, text: w.name || w.id, selected: chosen.includes(w.id) }));
  if (!multiple) options.unshift(h("option", { value: "", text: blank, selected: !chosen.length }));
  return h("select", { id: `f-${name}-${++counter}`, name, multiple, size: multiple ? 4 : null }, ...options);
}

const picked = (select) => [...select.selectedOptions].map((o) => o.value).filter(Boolean);

/** A form for a client (`workers`: the agency's, to choose by name); `read()` gives the record. */
export function clientForm(client = {}, workers = []) {
  const carers = workers.filter((w) => w.role !== "coordinator");
  const coordinators = workers.filter((w) => w.role === "coordinator");
  const f = {
    id: input("id", client.id, { required: true, readonly: client.id ? true : null }),
    name: input("name", client.name),
    area: input("area", client.area),
    lat: input("lat", client.location?.lat, { type: "number", step: "any", required: true }),
    lon: input("lon", client.location?.lon, { type: "number", step: "any", required: true }),
    address: input("address", client.address),
    phone: input("phone", client.phone, { type: "tel" }),
    coordinator: workerSelect("coordinator", coordinators, client.coordinator ? [client.coordinator] : [], { blank: "nobody" }),
    preferred: workerSelect("preferred_workers", carers, client.preferred_workers || [], { multiple: true }),
    excluded: workerSelect("excluded_workers", carers, client.excluded_workers || [], { multiple: true }),
    gender: input("gender_preference", client.gender_preference),
    plan: h("textarea", { id: `f-plan-${++counter}`, name: "care_plan", rows: 3 }),
  };
  f.plan.value = client.care_plan || "";
  const node = h("div", { class: "record-form" }, h("div", { class: "new-form" },
    field("Reference", f.id, { hint: "short, no spaces, e.g. c0042" }), field("Name", f.name, { wide: true }), field("Area", f.area),
    field("Latitude", f.lat), field("Longitude", f.lon), field("Address", f.address, { wide: true }),
    field("Phone", f.phone, { hint: "e.g. 0113 496 0123" }), field("Coordinator", f.coordinator), field("Carers they prefer", f.preferred, { hint: "Ctrl-click for several" }),
    field("Never send", f.excluded), field("Only carers who are", f.gender, { hint: "e.g. female" }),
    field("Care plan", f.plan, { wide: true })));
  const read = () => {
    const body = {
      id: f.id.value.trim(),
      location: { lat: Number(f.lat.value), lon: Number(f.lon.value) },
      preferred_workers: picked(f.preferred),
      excluded_workers: picked(f.excluded),
    };
    if (f.coordinator.value) body.coordinator = f.coordinator.value;
    for (const [key, el] of [["name", f.name], ["area", f.area], ["address", f.address], ["phone", f.phone], ["gender_preference", f.gender], ["care_plan", f.plan]]) {
      if (el.value.trim()) body[key] = el.value.trim();
    }
    return body;
  };
  return { node, read };
}

/** A form for a care package (of `client` when given); `read()` gives the record to send. */
export function packageForm(pkg = {}, client = null) {
  const f = {
    id: input("id", pkg.id, { required: true, readonly: pkg.id ? true : null }),
    client: input("client", pkg.client || client, { required: true, readonly: client ? true : null }),
    every: input("every_weeks", pkg.every_weeks || 1, { type: "number", min: 1, max: 52 }),
    start: input("start_date", pkg.start_date, { type: "date", required: true }),
    end: input("end_date", pkg.end_date, { type: "date" }),
    earliest: input("earliest_start", pkg.earliest_start, { type: "time", required: true }),
    latest: input("latest_start", pkg.latest_start, { type: "time", required: true }),
    duration: input("duration_minutes", pkg.duration_minutes || 30, { type: "number", min: 5, step: 5 }),
    crew: h("select", { id: `f-crew-${++counter}`, name: "workers_required" },
      h("option", { value: "1", text: "1 carer", selected: (pkg.workers_required || 1) === 1 }),
      h("option", { value: "2", text: "2 carers", selected: pkg.workers_required === 2 })),
    skills: input("skills", joined(pkg.skills)),
    note: input("note", pkg.note),
  };
  const days = Object.fromEntries(DAYS.map((d) => {
    const box = h("input", { type: "checkbox", id: `f-day-${d}-${++counter}`, name: `day-${d}`, checked: (pkg.days || []).includes(d) });
    return [d, box];
  }));
  const node = h("div", { class: "record-form" }, h("div", { class: "new-form" },
    field("Reference", f.id, { hint: "e.g. c0042-am" }),
    h("fieldset", { class: "days" }, h("legend", { text: "Days" }),
      ...DAYS.map((d) => h("label", { class: "day" }, days[d], ` ${DAY_LABELS[d]}`))),
    field("Every … weeks", f.every), field("From", f.start), field("Until", f.end),
    field("Earliest start", f.earliest), field("Latest start", f.latest),
    field("Minutes", f.duration), field("Carers", f.crew), field("Skills", f.skills),
    field("Note", f.note, { wide: true })));
  const read = () => {
    const body = {
      id: f.id.value.trim(),
      client: f.client.value.trim(),
      days: DAYS.filter((d) => days[d].checked),
      every_weeks: Number(f.every.value) || 1,
      start_date: f.start.value,
      earliest_start: f.earliest.value,
      latest_start: f.latest.value,
      duration_minutes: Number(f.duration.value),
      workers_required: Number(f.crew.value),
      skills: list(f.skills.value),
    };
    if (f.end.value) body.end_date = f.end.value;
    if (f.note.value.trim()) body.note = f.note.value.trim();
    return body;
  };
  return { node, read };
}

/** The service's 422 as lines a coordinator can act on: "Field: what is wrong". */
export function errorText(error) {
  if (!error.details || !error.details.length) return error.message;
  return error.details.map((d) => `${d.loc.replace(/_/g, " ")}: ${d.message}`).join("\n");
}

/** Save a record (POST when new, PUT when it exists); resolves to the saved record. */
export async function saveRecord(plural, body, existing) {
  const path = existing ? `/v1/${plural}/${encodeURIComponent(body.id)}` : `/v1/${plural}`;
  return api(path, { method: existing ? "PUT" : "POST", body });
}

/** Every record of a kind, following the pages. */
export async function allRecords(plural, query = "") {
  const out = [];
  let url = `/v1/${plural}?limit=500${query}`;
  while (url) {
    const page = await api(url);
    out.push(...page.items);
    url = page.next;
  }
  return out;
}

/** A dialog-like panel with a form, a Save button and an error line. */
export function editor(title, form, onSave) {
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const save = h("button", { type: "submit", class: "primary", text: "Save" });
  const node = h("form", { class: "card editor", novalidate: true },
    h("h2", { text: title }), form.node, h("div", { class: "new-form" }, save), error);
  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    say(error, "");
    save.disabled = true;
    try {
      await onSave(form.read());
    } catch (e) {
      say(error, errorText(e));
    } finally {
      save.disabled = false;
    }
  });
  return node;
}
