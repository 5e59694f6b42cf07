"""What a carer's link opens: their run in the rotas the agency has published, kept current.

A link belongs to one worker of one agency, not to a rota version, so a re-solve that publishes
a new version changes what the link shows, not whether it works. Three views are built here from
the publication log and the stored run sheets (nothing is recomputed from the rota):

- the carer's **current run**: for each of the latest published weeks, their run sheet in the
  version published now;
- an **older version's page**: the same carer's sheet in a version since replaced, with what
  changed for them (:func:`replaced_by`);
- the **calendar feed**: one event per visit they hold, with a UID that stays the same for the
  visit, a SEQUENCE raised each time a publication changes it, and visits taken away from them
  kept as cancelled events while their week is in the feed, so a subscribed phone calendar
  updates itself (:func:`calendar_feed`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import CursorResult, select, tuple_, update
from sqlalchemy.orm import Session

from api.db import CarerToken, Publication, RunSheet, utcnow
from api.documents import CalendarBuilder, visit_uid
from solver.words import day_text

# Weeks a carer's run and calendar cover: the latest published periods, newest first.
FEED_PERIODS: Final = 8


@dataclass(frozen=True)
class Week:
    """A published period and its publications, oldest first (a version once per change)."""

    start: date
    end: date
    history: list[tuple[str, datetime]]  # (version id, published at)
    area: str = ""  # a publication is per period and area ("" for the whole agency)

    @property
    def current(self) -> str:
        return self.history[-1][0]


def published_weeks(session: Session, agency_id: str, limit: int = FEED_PERIODS) -> list[Week]:
    """The agency's latest ``limit`` published periods (each area's apart), newest first, with
    their history."""
    periods = session.execute(
        select(Publication.period_start, Publication.period_end, Publication.area)
        .where(Publication.agency_id == agency_id)
        .group_by(Publication.period_start, Publication.period_end, Publication.area)
        .order_by(Publication.period_start.desc(), Publication.period_end.desc(), Publication.area)
        .limit(limit)
    ).all()
    if not periods:
        return []
    rows = session.execute(
        select(
            Publication.period_start,
            Publication.period_end,
            Publication.area,
            Publication.version_id,
            Publication.published_at,
        )
        .where(
            Publication.agency_id == agency_id,
            tuple_(Publication.period_start, Publication.period_end, Publication.area).in_(
                [(p.period_start, p.period_end, p.area) for p in periods]
            ),
        )
        .order_by(Publication.id)
    ).all()
    history: dict[tuple[date, date, str], list[tuple[str, datetime]]] = {
        (p.period_start, p.period_end, p.area): [] for p in periods
    }
    for row in rows:
        versions = history[(row.period_start, row.period_end, row.area)]
        if not versions or versions[-1][0] != row.version_id:
            versions.append((row.version_id, row.published_at))
    return [Week(start, end, versions, area) for (start, end, area), versions in history.items()]


def sheets(
    session: Session, agency_id: str, worker_id: str, versions: Iterable[str]
) -> dict[str, Any]:
    """The worker's stored run sheet (parsed) in each of ``versions`` that has one."""
    rows = session.execute(
        select(RunSheet.version_id, RunSheet.body).where(
            RunSheet.agency_id == agency_id,
            RunSheet.worker_id == worker_id,
            RunSheet.version_id.in_(set(versions)),
        )
    ).all()
    return {r.version_id: json.loads(r.body) for r in rows}


def published_area(session: Session, agency_id: str, version_id: str) -> str | None:
    """The area the version was published for ("" for the whole agency), or None if it never
    was published."""
    found: str | None = session.scalar(
        select(Publication.area)
        .where(Publication.agency_id == agency_id, Publication.version_id == version_id)
        .limit(1)
    )
    return found


def was_published(session: Session, agency_id: str, version_id: str) -> bool:
    return published_area(session, agency_id, version_id) is not None


def current_version(
    session: Session, agency_id: str, start: date, end: date, area: str = ""
) -> tuple[str, datetime] | None:
    """The version published now for the period (start, end) and area, and when, if any."""
    row = session.execute(
        select(Publication.version_id, Publication.published_at)
        .where(
            Publication.agency_id == agency_id,
            Publication.period_start == start,
            Publication.period_end == end,
            Publication.area == area,
        )
        .order_by(Publication.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (row.version_id, row.published_at)


# ---------------------------------------------------------------------------------------------
# What changed for one carer between two of their sheets


def _stops(sheet: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stop["visit"]: stop for day in sheet["days"] for stop in day["stops"]}


def _when(moment: str) -> str:
    """``2026-12-01T09:00:00`` as ``Tue 1 Dec 09:00``, the one format carers see dates in."""
    at = datetime.fromisoformat(moment)
    return f"{day_text(at.date())} {at:%H:%M}"


def changes_for(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The carer's visits taken away, added and moved from ``old`` to ``new``, in time order.

    Each has ``kind`` (``removed``, ``added``, ``moved``), the visit, the client's name and
    address, the start (the new one for a move, with ``was``) and a one-line ``text``.
    """
    before, after = _stops(old), _stops(new)
    found = []
    for visit in before.keys() | after.keys():
        was, now = before.get(visit), after.get(visit)
        stop = now or was
        assert stop is not None
        client = stop["client"]
        name = client.get("name") or client["id"]
        item: dict[str, Any] = {
            "visit": visit,
            "client": name,
            "address": client["address"],
            "start": stop["start"],
        }
        if now is None:
            item |= {
                "kind": "removed",
                "text": f"{_when(stop['start'])}: {name} is no longer yours",
            }
        elif was is None:
            item |= {
                "kind": "added",
                "text": f"{_when(stop['start'])}: you now also visit {name}, {client['address']}",
            }
        elif was["start"] != now["start"]:
            item |= {
                "kind": "moved",
                "was": was["start"],
                "text": f"{_when(was['start'])}: {name} moves to {now['start'][11:16]}"
                if was["start"][:10] == now["start"][:10]
                else f"{_when(was['start'])}: {name} moves to {_when(now['start'])}",
            }
        else:
            continue
        found.append(item)
    return sorted(found, key=lambda c: (c["start"], c["visit"]))


@dataclass(frozen=True)
class Replaced:
    """A version since replaced for its period: by which, when, and what changed for the carer."""

    rota: str
    published_at: datetime
    changes: list[dict[str, Any]] = field(default_factory=list)


def replaced_by(
    session: Session, agency_id: str, version_id: str, worker_id: str, sheet: dict[str, Any]
) -> Replaced | None:
    """How ``version_id`` was replaced for this worker, or None while it is current (or was
    never published: a draft is not out of date, it is a draft)."""
    area = published_area(session, agency_id, version_id)
    if area is None:
        return None
    period = sheet["period"]
    current = current_version(
        session,
        agency_id,
        date.fromisoformat(period["start"]),
        date.fromisoformat(period["end"]),
        area,
    )
    if current is None or current[0] == version_id:
        return None
    new = sheets(session, agency_id, worker_id, [current[0]]).get(current[0])
    empty = sheet | {"days": []}
    return Replaced(current[0], current[1], changes_for(sheet, new or empty))


# ---------------------------------------------------------------------------------------------
# The carer's current run


def current_run(session: Session, agency_id: str, worker_id: str) -> list[dict[str, Any]]:
    """The worker's sheet in each published week's current version, newest week first."""
    weeks = published_weeks(session, agency_id)
    found = sheets(session, agency_id, worker_id, [w.current for w in weeks])
    return [
        found[w.current] | {"rota": w.current, "published_at": w.history[-1][1].isoformat()}
        for w in weeks
        if w.current in found
    ]


# ---------------------------------------------------------------------------------------------
# The calendar feed


def _signature(stop: dict[str, Any]) -> str:
    """What a carer's calendar shows of a visit: a change to any of it is a new SEQUENCE."""
    return json.dumps(
        [stop["start"], stop["end"], stop["client"], stop["with"], stop["mode"], stop["skills"]],
        sort_keys=True,
    )


@dataclass
class _Held:
    stop: dict[str, Any]
    timezone: str
    signature: str | None  # None once taken away
    sequence: int
    changed_at: datetime


def _replay(week: Week, found: dict[str, Any]) -> dict[str, _Held]:
    """Each visit the worker ever held in the week, as the publications left it."""
    held: dict[str, _Held] = {}
    for version, published_at in week.history:
        stops = _stops(found[version]) if version in found else {}
        for visit in held.keys() | stops.keys():
            stop = stops.get(visit)
            signature = None if stop is None else _signature(stop)
            item = held.get(visit)
            if item is None:
                assert stop is not None and signature is not None
                held[visit] = _Held(stop, found[version]["timezone"], signature, 0, published_at)
            elif item.signature != signature:
                item.sequence += 1
                item.signature, item.changed_at = signature, published_at
                if stop is not None:
                    item.stop = stop
    return held


def calendar_feed(session: Session, agency_id: str, worker_id: str) -> bytes:
    """The worker's calendar subscription over the latest published weeks (RFC 5545).

    A visit's UID is the same in every version (:func:`api.documents.visit_uid`); its SEQUENCE
    counts the publications that changed it; one taken away stays as ``STATUS:CANCELLED`` (with
    a raised SEQUENCE) while its week is in the feed, so a phone drops it instead of keeping it.
    """
    weeks = published_weeks(session, agency_id)
    found = sheets(session, agency_id, worker_id, [v for w in weeks for v, _ in w.history])
    latest = next((found[w.current] for w in weeks if w.current in found), None)
    who = latest["worker"].get("name") if latest else None
    agency = latest["agency"] if latest else "carerota"
    cal = CalendarBuilder(f"{agency}: {who or worker_id}", f"{agency_id}.{worker_id}@carerota")
    cal.calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.calendar.add("x-published-ttl", timedelta(hours=1))
    for week in sorted(weeks, key=lambda w: w.start):
        held = _replay(week, found)
        for visit, item in sorted(held.items(), key=lambda i: (i[1].stop["start"], i[0])):
            cal.add(
                item.stop,
                item.timezone,
                uid=visit_uid(agency_id, week.start.isoformat(), worker_id, visit),
                stamp=item.changed_at,
                sequence=item.sequence,
                cancelled=item.signature is None,
            )
    return cal.to_ical()


# ---------------------------------------------------------------------------------------------
# Links


@dataclass(frozen=True)
class Revoke:
    """Which of an agency's links to revoke: a carer's, those a key made, or all (neither)."""

    worker: str | None = None
    key_id: str | None = None


def revoke_links_made_by(session: Session, key_ids: Iterable[str]) -> int:
    """Revoke every live link these API keys made (keys belong to one agency each)."""
    keys = list(key_ids)
    if not keys:
        return 0
    result = session.execute(
        update(CarerToken)
        .where(CarerToken.key_id.in_(keys), CarerToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


def revoke_links(session: Session, agency_id: str, which: Revoke) -> list[str]:
    """Revoke the agency's live links that match ``which``; their hashes, to drop from caches."""
    query = select(CarerToken.id, CarerToken.token_hash).where(
        CarerToken.agency_id == agency_id, CarerToken.revoked_at.is_(None)
    )
    if which.worker is not None:
        query = query.where(CarerToken.worker_id == which.worker)
    if which.key_id is not None:
        query = query.where(CarerToken.key_id == which.key_id)
    rows = session.execute(query).all()
    if rows:
        session.execute(
            update(CarerToken)
            .where(CarerToken.id.in_([r.id for r in rows]))
            .values(revoked_at=utcnow())
        )
    return [r.token_hash for r in rows]
