"""What a stored rota is turned into: its check, its explanation and each worker's run sheet.

These are computed once, when a rota version is written (versions never change), and stored as
JSON; a request only reads them. The printable HTML page and the iCalendar file are rendered from
the stored run sheet on request: both are cheap, and the run sheet holds everything they need.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from icalendar.enums import STATUS

from solver.checker import check
from solver.contract import Problem, Rota, Worker, tel_uri
from solver.explain import LABELS, explain
from solver.words import day_text, plural

BREACHES_SHOWN: Final = 20
CLIENTS_SHOWN: Final = 20
PRODID: Final = "-//carerota//run sheet//EN"
YEAR: Final = timedelta(days=366)


@dataclass(frozen=True)
class Documents:
    """Everything derived from one rota version."""

    check_ok: bool
    breaches: int
    explanation: dict[str, Any]
    run_sheets: dict[str, dict[str, Any]]


def build_documents(problem: Problem, rota: Rota) -> Documents:
    """Check ``rota`` independently, explain its objective, and write every run sheet."""
    report = check(problem, rota)
    return Documents(
        check_ok=report.ok,
        breaches=len(report.breaches),
        explanation=explanation(problem, rota, report.breaches),
        run_sheets=run_sheets(problem, rota),
    )


def explanation(problem: Problem, rota: Rota, breaches: Any = ()) -> dict[str, Any]:
    """The objective by term (largest first) and the clients continuity costs most."""
    ex = explain(problem, rota, top=CLIENTS_SHOWN)
    names = {c.id: c.name for c in problem.clients}
    terms = [
        {
            "term": name,
            "label": LABELS.get(name, name),
            "value": round(value, 6),
            "share": round(value / ex.objective, 6) if ex.objective else 0.0,
        }
        for name, value in sorted(ex.terms.items(), key=lambda item: (-item[1], item[0]))
    ]
    return {
        "objective": round(ex.objective, 6),
        "terms": terms,
        "clients": [
            {
                "client": c.client,
                "name": names.get(c.client),
                "workers": c.workers,
                "unfamiliar_workers": c.unfamiliar,
                "cost": round(c.cost, 6),
            }
            for c in ex.clients
        ],
        "unstaffed": [u.model_dump(mode="json") for u in rota.unassigned],
        "violations": [v.model_dump(mode="json", exclude_none=True) for v in rota.violations],
        "check": {
            "ok": not breaches,
            "breaches": [
                {"rule": b.rule, "detail": b.detail, "visit": b.visit, "worker": b.worker}
                for b in list(breaches)[:BREACHES_SHOWN]
            ],
        },
    }


def _person(worker: Worker) -> dict[str, str | None]:
    return {"id": worker.id, "name": worker.name, "role": worker.role, "phone": worker.phone}


def run_sheets(problem: Problem, rota: Rota) -> dict[str, dict[str, Any]]:
    """Every worker's run sheet (an empty one for a worker with no visits)."""
    workers = {w.id: w for w in problem.workers}
    clients = {c.id: c for c in problem.clients}
    visits = {v.id: v for v in problem.visits}
    crew = {a.visit: a.workers for a in rota.assignments}
    shadows: dict[str, list[str]] = defaultdict(list)
    for cv in rota.coordinator_visits:
        if cv.mode == "shadow":
            shadows[cv.visit].append(cv.coordinator)
    teams = {t.client: t.workers for t in rota.teams or []}
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for route in rota.routes:
        stops = []
        for stop in route.stops:
            visit = visits[stop.visit]
            client = clients[visit.client]
            others = [
                w for w in crew.get(stop.visit, []) + shadows[stop.visit] if w != route.worker
            ]
            address = client.address or f"{client.location.lat:.5f}, {client.location.lon:.5f}"
            stops.append(
                {
                    "visit": stop.visit,
                    "start": stop.start.strftime("%Y-%m-%dT%H:%M:%S"),
                    "end": stop.end.strftime("%Y-%m-%dT%H:%M:%S"),
                    "duration_minutes": visit.duration_minutes,
                    "travel_minutes_before": stop.travel_minutes_before,
                    "mode": stop.mode,
                    "double_up": visit.workers_required > 1,
                    "with": [_person(workers[w]) for w in others if w in workers],
                    "skills": visit.skills,
                    "client": {
                        "id": client.id,
                        "name": client.name,
                        "address": address,
                        "phone": client.phone,
                        "location": client.location.model_dump(),
                        "care_plan": client.care_plan,
                        "team": [_person(workers[w]) for w in teams.get(client.id, [])],
                    },
                }
            )
        days[route.worker].append(
            {
                "date": route.date.isoformat(),
                "stops": stops,
                "travel_minutes": route.travel_minutes,
                "home_travel_minutes": route.home_travel_minutes,
                "visit_minutes": route.visit_minutes,
            }
        )
    sheets = {}
    for worker in problem.workers:
        own = sorted(days.get(worker.id, []), key=lambda d: str(d["date"]))
        sheets[worker.id] = {
            "worker": _person(worker) | {"travel_mode": worker.travel_mode},
            "agency": problem.agency,
            "timezone": problem.timezone,
            "period": {
                "start": problem.period.start.isoformat(),
                "end": problem.period.end.isoformat(),
            },
            "days": own,
            "totals": {
                "visits": sum(len(d["stops"]) for d in own),
                "visit_minutes": sum(d["visit_minutes"] for d in own),
                "travel_minutes": round(sum(d["travel_minutes"] for d in own), 6),
                "home_travel_minutes": round(sum(d["home_travel_minutes"] for d in own), 6),
            },
        }
    return sheets


# ---------------------------------------------------------------------------------------------
# Printable page


# Two layouts of the same page: on a phone (and any narrow screen) one column of cards, today
# first, with a map link per address and the care plan in full; printed or on a desktop, the
# table by day that offices print. CSS picks one, so the page needs no script.
_CSS: Final = """
body { font: 11pt/1.35 system-ui, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.2em 0 .3em; }
p.meta { margin: 0; color: #444; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
th, td { border-bottom: 1px solid #bbb; padding: .35em .4em; text-align: left;
  vertical-align: top; }
th { font-size: 9pt; text-transform: uppercase; color: #555; }
td.time { white-space: nowrap; font-weight: 600; } td.plan { font-size: 10pt; }
a.phone { white-space: nowrap; }
tr { page-break-inside: avoid; } .shadow { color: #555; font-style: italic; }
.notice { border: 2px solid #b45309; background: #fffbeb; padding: .6em .8em; margin: .8em 0;
  border-radius: 6px; } .notice ul { margin: .3em 0 0; padding-left: 1.2em; }
.cards { display: none; }
@media screen and (max-width: 700px) {
  body { margin: .8em; font-size: 12pt; overflow-wrap: anywhere; }
  .table { display: none; } .cards { display: block; }
  .stop { border: 1px solid #ccc; border-radius: 8px; padding: .6em .7em; margin: .6em 0; }
  .stop h3 { font-size: 13pt; margin: .1em 0; } .stop p { margin: .3em 0; }
  .when { font-weight: 700; font-size: 13pt; } .travel { font-weight: 400; color: #555;
  font-size: 10pt; } .plan { white-space: pre-wrap; background: #f4f4f5; padding: .4em;
  border-radius: 4px; } a.button { display: inline-block; padding: .45em .8em; margin: .2em .4em
  .2em 0; border: 1px solid #1d4ed8; border-radius: 6px; color: #1d4ed8; text-decoration: none; }
  h2.today { color: #1d4ed8; }
}
@media print { body { margin: 0; } h2 { page-break-after: avoid; } .notice a { color: #111; } }
"""


@dataclass(frozen=True)
class Notice:
    """A box at the top of a run sheet: a headline, lines under it, and a link to follow."""

    headline: str
    lines: list[str]
    link: tuple[str, str] | None = None  # (text, URL)


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _clock(moment: str) -> str:
    return moment[11:16]


def _weekday(day: str) -> str:
    moment = datetime.strptime(day, "%Y-%m-%d")
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def map_url(location: dict[str, float]) -> str:
    """A map of the place, opened by any phone's browser (or its maps app)."""
    lat, lon = location["lat"], location["lon"]
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"
    )


def _travel(minutes: float) -> str:
    if minutes < 0.5:
        return "no travel before"
    return f"{plural(round(minutes), 'minute')} of travel before"


def _card(stop: dict[str, Any]) -> str:
    client = stop["client"]
    name = _e(client.get("name") or client["id"])
    parts = [
        f'<article class="stop {_e(stop["mode"])}">',
        f'<p class="when">{_clock(stop["start"])}&ndash;{_clock(stop["end"])} '
        f'<span class="travel">{_e(_travel(stop["travel_minutes_before"]))}</span></p>',
        f"<h3>{name}{' (shadowing)' if stop['mode'] == 'shadow' else ''}</h3>",
        f"<p>{_e(client['address'])}</p>",
        f'<p><a class="button" href="{_e(map_url(client["location"]))}">Map</a>',
    ]
    if client.get("phone"):
        parts.append(
            f'<a class="button call" href="{_e(tel_uri(client["phone"]))}">'
            f"Call {_e(client['phone'])}</a>"
        )
    parts.append("</p>")
    if stop["with"]:
        others = ", ".join(_e(p.get("name") or p["id"]) for p in stop["with"])
        parts.append(f"<p>With {others}{' (double-up)' if stop['double_up'] else ''}")
        # On a double-up the other carer is the one to ring when running late.
        parts.extend(
            f'<br><a class="button call-carer" href="{_e(tel_uri(p["phone"]))}">'
            f"Call {_e(p.get('name') or p['id'])}</a>"
            for p in stop["with"]
            if p.get("phone")
        )
        parts.append("</p>")
    if stop["skills"]:
        parts.append(f"<p>Skills: {_e(', '.join(stop['skills']))}</p>")
    if client.get("care_plan"):
        parts.append(f'<p class="plan">{_e(client["care_plan"])}</p>')
    if client.get("team"):
        team = ", ".join(_e(p.get("name") or p["id"]) for p in client["team"])
        parts.append(f'<p class="team">Regular team: {team}</p>')
    parts.append("</article>")
    return "".join(parts)


def _phone_line(client: dict[str, Any]) -> str:
    """The client's number under the address on the printed table, dialled from a screen."""
    if not client.get("phone"):
        return ""
    return f'<br><a class="phone" href="{_e(tel_uri(client["phone"]))}">{_e(client["phone"])}</a>'


def _table(day: dict[str, Any]) -> list[str]:
    parts = [
        f"<h2>{_e(_weekday(day['date']))}</h2>",
        "<table><thead><tr><th>Time</th><th>Client and address</th><th>Travel</th>"
        "<th>With</th><th>Care plan</th></tr></thead><tbody>",
    ]
    for stop in day["stops"]:
        client = stop["client"]
        others = ", ".join(_e(p.get("name") or p["id"]) for p in stop["with"]) or "&ndash;"
        label = " (shadowing)" if stop["mode"] == "shadow" else ""
        double = " double-up" if stop["double_up"] else ""
        skills = f"<br>Skills: {_e(', '.join(stop['skills']))}" if stop["skills"] else ""
        parts.append(
            f'<tr class="{_e(stop["mode"])}">'
            f'<td class="time">{_clock(stop["start"])}&ndash;{_clock(stop["end"])}</td>'
            f"<td>{_e(client.get('name') or client['id'])}{label}<br>{_e(client['address'])}"
            f"{_phone_line(client)}</td><td>{stop['travel_minutes_before']:g} min</td>"
            f"<td>{others}{_e(double)}</td>"
            f'<td class="plan">{_e(client.get("care_plan") or "")}{skills}</td></tr>'
        )
    parts.append("</tbody></table>")
    return parts


def no_rota_html(who: str) -> str:
    """The page a carer's link shows before the office has published a rota."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Run sheet: {_e(who)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(who)}</h1><p>No rota has been published for you yet. This link will show "
        "your visits as soon as the office publishes one.</p></body></html>"
    )


def runsheet_html(
    sheets: list[dict[str, Any]],
    title: str = "Run sheet",
    *,
    today: date | None = None,
    notice: Notice | None = None,
) -> str:
    """One worker's run sheets (one per week) as a self-contained page, every value escaped.

    On a phone: cards, from ``today`` on first, then the earlier days. Printed: the table.
    """
    first = sheets[0]
    worker = first["worker"]
    who = worker.get("name") or worker["id"]
    visits = sum(s["totals"]["visits"] for s in sheets)
    care = sum(s["totals"]["visit_minutes"] for s in sheets)
    travel = sum(s["totals"]["travel_minutes"] for s in sheets)
    periods = "; ".join(
        f"{day_text(date.fromisoformat(s['period']['start']))} to "
        f"{day_text(date.fromisoformat(s['period']['end']))} {s['period']['end'][:4]}"
        for s in sheets
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}: {_e(who)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(who)}</h1>",
        f'<p class="meta">{_e(first["agency"])}: {_e(periods)} ({_e(first["timezone"])} time). '
        f"{_e(plural(visits, 'visit'))}, {_e(plural(care, 'minute'))} of care, "
        f"{_e(plural(round(travel, 1), 'minute'))} of travel between visits.</p>",
    ]
    if notice is not None:
        parts.append(f'<div class="notice" role="alert"><strong>{_e(notice.headline)}</strong>')
        if notice.lines:
            parts.append(
                "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in notice.lines) + "</ul>"
            )
        if notice.link is not None:
            parts.append(f'<p><a href="{_e(notice.link[1])}">{_e(notice.link[0])}</a></p>')
        parts.append("</div>")
    days = sorted((d for s in sheets for d in s["days"]), key=lambda d: str(d["date"]))
    if not days:
        parts.append("<p>No visits in this rota.</p>")
    # Phone: today and the days after it first, then what is already past.
    now = (today or date.min).isoformat()
    ahead = [d for d in days if d["date"] >= now]
    past = [d for d in days if d["date"] < now]
    parts.append('<div class="cards">')
    for group, heading in ((ahead, None), (past, "Earlier")):
        if heading is not None and group:
            parts.append(f"<h2>{heading}</h2>")
        for day in group:
            label = "Today, " if day["date"] == now else ""
            css = ' class="today"' if label else ""
            parts.append(f"<h2{css}>{label}{_e(_weekday(day['date']))}</h2>")
            parts.extend(_card(stop) for stop in day["stops"])
    parts.append('</div><div class="table">')
    for day in days:
        parts.extend(_table(day))
    parts.append("</div></body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Calendar (RFC 5545)


def event_description(stop: dict[str, Any]) -> str:
    """What a calendar event says about a visit besides its time and place."""
    lines = []
    if stop["mode"] == "shadow":
        lines.append("Coordinator visit (shadowing).")
    if stop["with"]:
        lines.append(f"With: {', '.join(p.get('name') or p['id'] for p in stop['with'])}")
    if stop["skills"]:
        lines.append(f"Skills: {', '.join(stop['skills'])}")
    lines.append(f"Travel before: {stop['travel_minutes_before']:g} min")
    if stop["client"].get("phone"):
        lines.append(f"Phone: {stop['client']['phone']}")
    if stop["client"].get("care_plan"):
        lines.append(f"Care plan: {stop['client']['care_plan']}")
    return "\n".join(lines)


def visit_uid(agency_id: str, period_start: str, worker_id: str, visit: str) -> str:
    """A visit's event UID for one worker: the same in every version of the week's rota, so a
    calendar that imports a newer one updates the event instead of adding a second."""
    return f"{agency_id}.{period_start}.{worker_id}.{visit}@carerota"


class CalendarBuilder:
    """An iCalendar being filled with visits, in the problem's timezone."""

    def __init__(self, name: str, uid: str) -> None:
        self.calendar = Calendar.new(prodid=PRODID, name=name, uid=uid)
        self.zones: set[str] = set()
        self.first: date | None = None
        self.last: date | None = None

    def add(
        self,
        stop: dict[str, Any],
        timezone: str,
        *,
        uid: str,
        stamp: datetime,
        sequence: int = 0,
        cancelled: bool = False,
    ) -> None:
        """One visit as an event; ``cancelled`` for a visit taken away from the worker."""
        zone = ZoneInfo(timezone)
        self.zones.add(timezone)
        start = datetime.fromisoformat(stop["start"]).replace(tzinfo=zone)
        end = datetime.fromisoformat(stop["end"]).replace(tzinfo=zone)
        self.first = start.date() if self.first is None else min(self.first, start.date())
        self.last = end.date() if self.last is None else max(self.last, end.date())
        client = stop["client"]
        event = Event.new(
            uid=uid,
            stamp=stamp.astimezone(UTC),
            start=start,
            end=end,
            summary=f"Visit: {client.get('name') or client['id']}",
            location=client["address"],
            description=event_description(stop),
            sequence=sequence,
            status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        )
        event.add("geo", (client["location"]["lat"], client["location"]["lon"]))
        self.calendar.add_component(event)

    def to_ical(self) -> bytes:
        if self.first is not None and self.last is not None:
            # A year either side gives calendar apps the clock changes around the visits too.
            self.calendar.add_missing_timezones(
                first_date=self.first - YEAR, last_date=self.last + YEAR
            )
        return bytes(self.calendar.to_ical())


def runsheet_calendar(sheet: dict[str, Any], agency_id: str, stamp: datetime) -> bytes:
    """One version's run sheet as an iCalendar file: one event per visit.

    UIDs are those of the carer's live feed (:func:`visit_uid`). ``stamp`` is the version's
    creation time (DTSTAMP).
    """
    worker = sheet["worker"]
    who = worker.get("name") or worker["id"]
    cal = CalendarBuilder(f"{sheet['agency']}: {who}", f"{agency_id}.{worker['id']}@carerota")
    for day in sheet["days"]:
        for stop in day["stops"]:
            uid = visit_uid(agency_id, sheet["period"]["start"], worker["id"], stop["visit"])
            cal.add(stop, sheet["timezone"], uid=uid, stamp=stamp)
    return cal.to_ical()


def dumps(payload: Any) -> str:
    """Compact JSON, as stored and as served."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
