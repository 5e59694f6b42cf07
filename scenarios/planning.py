"""Plan a week: an agency's records (:mod:`scenarios.records`) made into a contract problem.

:func:`week_problem` is the one bridge, used by ``carerota plan`` and ``POST /v1/plans`` alike:

- **visits**: each care package that runs that week gives a visit on each of its days (id
  ``PACKAGE@YYYY-MM-DD``, so the same package on the same day has the same id every time);
  a package's ``after`` link becomes the visit's ``after`` on the same day.
- **shifts**: each worker's usual availability on each day, except days they are away (leave,
  training, sickness), minus recorded absences and the times they are already busy on another
  area's published rota.
- **history**: who cared for whom, and the coordinator visits made, on the published rotas of the
  :data:`HISTORY_DAYS` days before the week (and any imported history of those days).
- **area**: with an area, only that area's clients, and the workers who work in it (or in every
  area), plus the coordinators of those clients.

Nothing here reads a database: the caller hands in the records and the published rotas (contract
JSON, as stored), so the same records always give the same problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from scenarios.records import WEEKDAYS, PackageRecord, Records, WorkerRecord

HISTORY_DAYS: Final = 35
# How many weeks back a weekly plan looks for a published week to start from (a week off, a
# holiday fortnight; further back, the carers and packages have moved on).
ROLL_WEEKS: Final = 4
"""How far back published rotas count as history: four weeks of faces, and every coordinator
visit already made in a month the week touches."""

MIN_SHIFT_MINUTES: Final = 15
"""A piece of availability left shorter than this by another area's visits is no shift."""

_FORMAT: Final = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class PublishedRota:
    """A published rota as stored: its area ("" when agency-wide), problem and rota (JSON)."""

    area: str
    problem: dict[str, Any]
    rota: dict[str, Any]


def runs_on(package: PackageRecord, day: date) -> bool:
    """Whether the package has a visit on ``day``."""
    if WEEKDAYS[day.weekday()] not in package.days:
        return False
    if day < package.start_date or (package.end_date is not None and day > package.end_date):
        return False
    first_monday = package.start_date - timedelta(days=package.start_date.weekday())
    weeks = (day - first_monday).days // 7
    return weeks % package.every_weeks == 0


def visit_id(package_id: str, day: date) -> str:
    return f"{package_id}@{day.isoformat()}"


def rolled_forward(
    published: Sequence[PublishedRota], week_start: date, area: str | None
) -> dict[str, Any] | None:
    """The latest published week before ``week_start`` (at most :data:`ROLL_WEEKS` back) that
    covers ``area``, moved on to this week, as the start of this week's plan: each visit (a care
    package on a day) becomes the same package's visit on the same weekday this week, at the
    same wall-clock time. None if no such week was published.

    A week covers an area if it was published for that area or for the whole agency; a
    whole-agency plan takes every area's publications of that week. Where a visit is in more
    than one of them, the one published last gives its crew and its coordinator."""
    whole = not area
    for back in range(1, ROLL_WEEKS + 1):
        before = (week_start - timedelta(days=7 * back)).isoformat()
        found = [
            p
            for p in published
            if p.problem["period"]["start"] == before and (whole or p.area in ("", area))
        ]
        if found:
            break
    else:
        return None
    shift = timedelta(days=7 * back)

    def moved(visit: str) -> str | None:
        package, _, day = visit.rpartition("@")
        try:
            return visit_id(package, date.fromisoformat(day) + shift)
        except ValueError:
            return None  # not a package's visit (a rota solved from an uploaded problem)

    crews: dict[str, dict[str, Any]] = {}
    shadows: dict[str, list[dict[str, Any]]] = {}
    for p in found:
        taken: dict[str, list[dict[str, Any]]] = {}
        for a in p.rota["assignments"]:
            if (visit := moved(a["visit"])) is not None:
                crews[visit] = a | {
                    "visit": visit,
                    "start": _text(datetime.fromisoformat(a["start"]) + shift),
                }
                taken[visit] = []
        for cv in p.rota.get("coordinator_visits", []):
            if (visit := moved(cv["visit"])) is not None:
                taken.setdefault(visit, []).append(cv | {"visit": visit})
        shadows |= taken
    return {
        "status": found[-1].rota["status"],
        "assignments": list(crews.values()),
        "coordinator_visits": [cv for visits in shadows.values() for cv in visits],
    }


def _at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment)


def _text(moment: datetime) -> str:
    return moment.strftime(_FORMAT)


def works_in(worker: WorkerRecord, area: str | None) -> bool:
    return area is None or not worker.areas or area in worker.areas


def _minutes(hours: float | None) -> int | None:
    return None if hours is None else round(hours * 60)


def _subtract(
    pieces: list[tuple[datetime, datetime]], busy: Iterable[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """``pieces`` with every busy stretch cut out of them."""
    for b_start, b_end in sorted(busy):
        cut: list[tuple[datetime, datetime]] = []
        for start, end in pieces:
            if b_end <= start or b_start >= end:
                cut.append((start, end))
                continue
            if b_start > start:
                cut.append((start, b_start))
            if b_end < end:
                cut.append((b_end, end))
        pieces = cut
    return [(s, e) for s, e in pieces if (e - s) >= timedelta(minutes=MIN_SHIFT_MINUTES)]


def _shifts(
    worker: WorkerRecord, week: list[date], busy: list[tuple[datetime, datetime]]
) -> list[dict[str, str]]:
    away = {
        day
        for leave in worker.away
        for day in week
        if leave.start <= day <= leave.end  # whole days, both ends included
    }
    pieces: list[tuple[datetime, datetime]] = []
    for day in week:
        if day in away:
            continue
        today = sorted(
            (_at(day, a.start), _at(day, a.end))
            for a in worker.availability
            if a.day == WEEKDAYS[day.weekday()]
        )
        for start, end in today:  # overlapping or touching stretches make one shift
            if pieces and start <= pieces[-1][1] and pieces[-1][0].date() == day:
                pieces[-1] = (pieces[-1][0], max(pieces[-1][1], end))
            else:
                pieces.append((start, end))
    return [{"start": _text(s), "end": _text(e)} for s, e in _subtract(pieces, busy)]


def _published_facts(
    published: Sequence[PublishedRota], week: list[date], area: str
) -> tuple[
    list[tuple[str, str, date]],
    list[tuple[str, str, date]],
    dict[str, list[tuple[datetime, datetime]]],
]:
    """From published rotas: past (client, worker, day) visits, past (coordinator, client, day)
    coordinator visits, and each worker's busy stretches this week on other areas' rotas."""
    first, last = week[0], week[-1]
    since = first - timedelta(days=HISTORY_DAYS)
    visits: list[tuple[str, str, date]] = []
    coordinator: list[tuple[str, str, date]] = []
    busy: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for pub in published:
        client_of = {v["id"]: v["client"] for v in pub.problem.get("visits", [])}
        day_of: dict[str, date] = {}
        for a in pub.rota.get("assignments", []):
            day = date.fromisoformat(a["start"][:10])
            day_of[a["visit"]] = day
            if since <= day < first:
                visits.extend((client_of[a["visit"]], w, day) for w in a["workers"])
        for c in pub.rota.get("coordinator_visits", []):
            made = day_of.get(c["visit"])
            if made is not None and since <= made < first:
                coordinator.append((c["coordinator"], client_of[c["visit"]], made))
        if pub.area != area:
            for route in pub.rota.get("routes", []):
                for stop in route["stops"]:
                    start = datetime.fromisoformat(stop["start"])
                    if first <= start.date() <= last:
                        busy[route["worker"]].append((start, datetime.fromisoformat(stop["end"])))
    return visits, coordinator, busy


def week_problem(
    records: Records,
    week_start: date,
    *,
    agency: str,
    timezone: str = "Europe/London",
    area: str | None = None,
    published: Sequence[PublishedRota] = (),
    absences: Sequence[tuple[str, datetime, datetime]] = (),
    weights: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The contract problem (a plain dict) of the seven days from ``week_start``.

    ``published`` are the agency's published rotas: those before the week give its history, and
    those of other areas during the week take their workers' visits out of this plan's shifts.
    ``absences`` are (worker, start, end) in local time, such as a sick call recorded for next
    week: they are cut out of the worker's shifts too.
    The result is not yet validated: ``solver.contract.Problem.model_validate`` names anything
    the records contradict (a skill no worker has is fine; a link to a missing visit is not).
    """
    week = [week_start + timedelta(days=i) for i in range(7)]
    area_key = area or ""
    past, past_coordinator, busy = _published_facts(published, week, area_key)
    for worker_id, start, end in absences:
        busy.setdefault(worker_id, []).append((start, end))

    clients = [c for c in records.clients if area is None or c.area == area]
    client_ids = {c.id for c in clients}
    visits: list[dict[str, Any]] = []
    with_visits: set[str] = set()
    by_client = sorted(
        (p for p in records.packages if p.client in client_ids), key=lambda p: (p.client, p.id)
    )
    packages = {p.id: p for p in by_client}
    for day in week:
        for package in sorted(
            (p for p in by_client if runs_on(p, day)), key=lambda p: (p.earliest_start, p.id)
        ):
            visit: dict[str, Any] = {
                "id": visit_id(package.id, day),
                "client": package.client,
                "earliest_start": _text(_at(day, package.earliest_start)),
                "latest_start": _text(_at(day, package.latest_start)),
                "duration_minutes": package.duration_minutes,
                "workers_required": package.workers_required,
                "skills": list(package.skills),
            }
            link = package.after
            if link is not None:
                before = packages.get(link.package)
                if before is not None and before.client == package.client and runs_on(before, day):
                    visit["after"] = {
                        "visit": visit_id(link.package, day),
                        "min_minutes": link.min_minutes,
                        "max_minutes": link.max_minutes,
                    }
                    if link.distinct_workers:
                        visit["after"]["distinct_workers"] = True
            if package.late_allowed_minutes:
                visit["late_allowed_minutes"] = package.late_allowed_minutes
            visits.append(visit)
            with_visits.add(package.client)

    clients = [c for c in clients if c.id in with_visits]
    coordinators_needed = {c.coordinator for c in clients if c.coordinator is not None}
    workers_out: list[dict[str, Any]] = []
    for worker in sorted(records.workers, key=lambda w: w.id):
        if not (works_in(worker, area) or worker.id in coordinators_needed):
            continue
        entry: dict[str, Any] = {
            "id": worker.id,
            "role": worker.role,
            "home": worker.home.model_dump(),
            "travel_mode": worker.travel_mode,
            "skills": list(worker.skills),
            "shifts": _shifts(worker, week, busy.get(worker.id, [])),
        }
        if worker.name is not None:
            entry["name"] = worker.name
        if worker.gender is not None:
            entry["gender"] = worker.gender
        if worker.phone is not None:
            entry["phone"] = worker.phone
        for field, hours in (
            ("max_minutes_per_week", worker.max_hours_per_week),
            ("max_minutes_per_day", worker.max_hours_per_day),
            ("contracted_minutes_per_week", worker.contracted_hours_per_week),
        ):
            minutes = _minutes(hours)
            if minutes is not None:
                entry[field] = minutes
        workers_out.append(entry)
    worker_ids = {w["id"] for w in workers_out}
    coordinator_ids = {w["id"] for w in workers_out if w["role"] == "coordinator"}

    clients_out: list[dict[str, Any]] = []
    for client in sorted(clients, key=lambda c: c.id):
        out: dict[str, Any] = {
            "id": client.id,
            "location": client.location.model_dump(),
            "preferred_workers": [w for w in client.preferred_workers if w in worker_ids],
            "excluded_workers": [w for w in client.excluded_workers if w in worker_ids],
        }
        for field in ("name", "address", "phone", "gender_preference", "care_plan"):
            value = getattr(client, field)
            if value is not None:
                out[field] = value
        if client.coordinator in coordinator_ids:
            out["coordinator"] = client.coordinator
        clients_out.append(out)
    clients_in = {c["id"] for c in clients_out}

    since = week_start - timedelta(days=HISTORY_DAYS)
    imported = [h for h in records.history if since <= h.date < week_start]
    seen = sorted(
        {(c, w, d) for c, w, d in past}
        | {(h.client, h.worker, h.date) for h in imported if not h.coordinator}
    )
    made = sorted(
        {(k, c, d) for k, c, d in past_coordinator}
        | {(h.worker, h.client, h.date) for h in imported if h.coordinator}
    )
    problem: dict[str, Any] = {
        "schema_version": 1,
        "agency": agency,
        "timezone": timezone,
        "period": {"start": week[0].isoformat(), "end": week[-1].isoformat()},
        "workers": workers_out,
        "clients": clients_out,
        "visits": visits,
        "history": {
            "visits": [
                {"client": c, "worker": w, "date": d.isoformat()}
                for c, w, d in seen
                if c in clients_in and w in worker_ids
            ],
            "coordinator_visits": [
                {"coordinator": k, "client": c, "date": d.isoformat()}
                for k, c, d in made
                if c in clients_in and k in coordinator_ids
            ],
        },
    }
    if weights:
        problem["weights"] = dict(weights)
    return problem
