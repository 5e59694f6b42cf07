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
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from solver.checker import check
from solver.contract import Problem, Rota, Worker
from solver.explain import LABELS, explain

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
    return {"id": worker.id, "name": worker.name, "role": worker.role}


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
                        "location": client.location.model_dump(),
                        "care_plan": client.care_plan,
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


_CSS: Final = """
body { font: 11pt/1.35 system-ui, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 13pt; margin: 1.2em 0 .3em; }
p.meta { margin: 0; color: #444; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
th, td { border-bottom: 1px solid #bbb; padding: .35em .4em; text-align: left;
  vertical-align: top; }
th { font-size: 9pt; text-transform: uppercase; color: #555; }
td.time { white-space: nowrap; font-weight: 600; } td.plan { font-size: 10pt; }
tr { page-break-inside: avoid; } .shadow { color: #555; font-style: italic; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } }
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _clock(moment: str) -> str:
    return moment[11:16]


def _weekday(day: str) -> str:
    return datetime.strptime(day, "%Y-%m-%d").strftime("%A %d %B %Y")


def runsheet_html(sheet: dict[str, Any], title: str = "Run sheet") -> str:
    """The run sheet as a self-contained printable HTML page (every value escaped)."""
    worker = sheet["worker"]
    who = worker.get("name") or worker["id"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}: {_e(who)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(who)}</h1>",
        f'<p class="meta">{_e(sheet["agency"])}: {_e(sheet["period"]["start"])} to '
        f"{_e(sheet['period']['end'])} ({_e(sheet['timezone'])} time). "
        f"{sheet['totals']['visits']} visits, {sheet['totals']['visit_minutes']} minutes of care, "
        f"{sheet['totals']['travel_minutes']:g} minutes of travel between visits.</p>",
    ]
    if not sheet["days"]:
        parts.append("<p>No visits in this rota.</p>")
    for day in sheet["days"]:
        parts.append(f"<h2>{_e(_weekday(day['date']))}</h2>")
        parts.append(
            "<table><thead><tr><th>Time</th><th>Client and address</th><th>Travel</th>"
            "<th>With</th><th>Care plan</th></tr></thead><tbody>"
        )
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
                f"</td><td>{stop['travel_minutes_before']:g} min</td>"
                f"<td>{others}{_e(double)}</td>"
                f'<td class="plan">{_e(client.get("care_plan") or "")}{skills}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Calendar (RFC 5545)


def runsheet_calendar(sheet: dict[str, Any], version_id: str, stamp: datetime) -> bytes:
    """The run sheet as an iCalendar file: one event per visit, in the problem's timezone.

    Event UIDs are stable for a (version, worker, visit), so re-importing the same file updates
    the events instead of duplicating them. ``stamp`` is the version's creation time (DTSTAMP).
    """
    zone = ZoneInfo(sheet["timezone"])
    worker = sheet["worker"]
    who = worker.get("name") or worker["id"]
    cal = Calendar.new(
        prodid=PRODID, name=f"{sheet['agency']}: {who}", uid=f"{version_id}.{worker['id']}@carerota"
    )
    first = last = None
    for day in sheet["days"]:
        for stop in day["stops"]:
            client = stop["client"]
            start = datetime.fromisoformat(stop["start"]).replace(tzinfo=zone)
            end = datetime.fromisoformat(stop["end"]).replace(tzinfo=zone)
            first = start.date() if first is None else min(first, start.date())
            last = end.date() if last is None else max(last, end.date())
            lines = []
            if stop["mode"] == "shadow":
                lines.append("Coordinator visit (shadowing).")
            if stop["with"]:
                names = ", ".join(p.get("name") or p["id"] for p in stop["with"])
                lines.append(f"With: {names}")
            if stop["skills"]:
                lines.append(f"Skills: {', '.join(stop['skills'])}")
            lines.append(f"Travel before: {stop['travel_minutes_before']:g} min")
            if client.get("care_plan"):
                lines.append(f"Care plan: {client['care_plan']}")
            event = Event.new(
                uid=f"{version_id}.{worker['id']}.{stop['visit']}@carerota",
                stamp=stamp.astimezone(UTC),
                start=start,
                end=end,
                summary=f"Visit: {client.get('name') or client['id']}",
                location=client["address"],
                description="\n".join(lines),
            )
            event.add("geo", (client["location"]["lat"], client["location"]["lon"]))
            cal.add_component(event)
    if first is not None and last is not None:
        # A year either side gives calendar apps the clock changes around the visits as well.
        cal.add_missing_timezones(first_date=first - YEAR, last_date=last + YEAR)
    return bytes(cal.to_ical())


def dumps(payload: Any) -> str:
    """Compact JSON, as stored and as served."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
