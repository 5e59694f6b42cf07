"""Tiny agencies built by hand: the builders every solver test shares.

Places lie on one meridian (lon -1.55) unless a test says otherwise, so the haversine distance
between two of them is exactly R x (difference in latitude, radians) and the drive time is
``ceil(km x 1.3 / 30 x 60)`` minutes (the contract's default car travel):

    0.001 deg = 0.1112 km -> ceil(0.2891)  = 1 min
    0.01 deg  = 1.1120 km -> ceil(2.8911)  = 3 min
    0.02 deg  = 2.2239 km -> ceil(5.7821)  = 6 min
    0.03 deg  = 3.3359 km -> ceil(8.6732)  = 9 min
    0.04 deg  = 4.4478 km -> ceil(11.5643) = 12 min
    0.05 deg  = 5.5598 km -> ceil(14.4554) = 15 min

``drive_minutes`` recomputes this table from the formula. The builders return the contract's
JSON shapes (dicts), so a test can change any field before :func:`problem` validates the whole.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from scenarios.generator import generate
from solver.contract import Problem, Rota

EARTH_RADIUS_KM = 6371.0088
LON = -1.55
HOME = 53.79  # every worker lives here unless told otherwise
ANN, BOB, CY = 53.80, 53.83, 53.81  # Ann-Bob 9 min, Ann-Cy 3 min, Cy-Bob 6 min
MONDAY = "2026-11-23"  # November does not end in a period of this week
TUESDAY = "2026-11-24"
MONTH_END = "2026-11-30"  # the last day of November, a Monday

Raw = dict[str, Any]


def drive_minutes(lat_a: float, lat_b: float, lon_a: float = LON, lon_b: float = LON) -> int:
    """The contract's haversine car time between two places, computed here independently."""
    p1, p2 = math.radians(lat_a), math.radians(lat_b)
    dl = math.radians(lon_b - lon_a)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
    return math.ceil(km * 1.3 / 30 * 60)


def place(lat: float, lon: float = LON) -> Raw:
    return {"lat": lat, "lon": lon}


def at(hhmm: str, day: str = MONDAY) -> str:
    return f"{day}T{hhmm}"


def when(hhmm: str, day: str = MONDAY) -> datetime:
    return datetime.fromisoformat(at(hhmm, day))


def carer(
    ident: str,
    start: str = "07:00",
    end: str = "13:00",
    day: str = MONDAY,
    *,
    lat: float = HOME,
    lon: float = LON,
    **extra: Any,
) -> Raw:
    """A car-driving carer living at ``lat`` with one shift ``start``-``end`` on ``day``."""
    return {
        "id": ident,
        "home": place(lat, lon),
        "shifts": [{"start": at(start, day), "end": at(end, day)}],
        **extra,
    }


def coordinator(ident: str, start: str, end: str, day: str = MONDAY, **extra: Any) -> Raw:
    """An office coordinator out ``start``-``end`` on ``day``, with 240 minutes of field time."""
    return carer(
        ident, start, end, day, **{"role": "coordinator", "max_minutes_per_week": 240} | extra
    )


def client(ident: str, lat: float, lon: float = LON, **extra: Any) -> Raw:
    return {"id": ident, "location": place(lat, lon), **extra}


def visit(
    ident: str,
    who: str,
    earliest: str,
    latest: str | None = None,
    minutes: int = 30,
    day: str = MONDAY,
    **extra: Any,
) -> Raw:
    """A visit to client ``who`` starting ``earliest``-``latest`` (a fixed start if no latest)."""
    return {
        "id": ident,
        "client": who,
        "earliest_start": at(earliest, day),
        "latest_start": at(latest or earliest, day),
        "duration_minutes": minutes,
        **extra,
    }


def knows(*pairs: tuple[str, str], day: str = "2026-11-16") -> Raw:
    """History in which each (worker, client) pair met on ``day``: familiar carers."""
    return {"visits": [{"worker": w, "client": c, "date": day} for w, c in pairs]}


def matrix(places: list[str], minutes: list[list[float]]) -> Raw:
    """Travel by a matrix of minutes between ``places`` (worker and client ids)."""
    return {"model": "matrix", "places": places, "minutes": minutes}


def problem(
    first: str,
    last: str | None = None,
    *,
    workers: list[Raw],
    clients: list[Raw],
    visits: list[Raw],
    **extra: Any,
) -> Problem:
    """An agency in London over ``first``-``last`` (one day if no last), validated."""
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": first, "end": last or first},
            "workers": workers,
            "clients": clients,
            "visits": visits,
            **extra,
        }
    )


def agency(**changes: Any) -> Problem:
    """Amy alone, 07:00-13:00 on Monday 23 November, familiar to Ann; one visit to Ann at 08:00."""
    base: Raw = {
        "workers": [carer("w-amy")],
        "clients": [client("c-ann", ANN)],
        "visits": [visit("v-ann", "c-ann", "08:00")],
        "history": knows(("w-amy", "c-ann")),
    }
    return problem(MONDAY, **(base | changes))


def twice_at_ann(distinct: bool) -> Problem:
    """Ann twice on Monday, at 08:00 and 30 minutes later, by two different carers if
    ``distinct``. Amy lives 3 minutes from Ann, Bea 29 (0.10 deg north); both know Ann; home
    legs cost a minute each. Amy on both costs 6 (her legs); split, 6 + 58 (Bea's legs) + 30
    (Ann's second face) = 94."""
    link = {"visit": "v-first", "min_minutes": 30, "max_minutes": 30}
    return agency(
        workers=[carer("w-amy"), carer("w-bea", lat=53.90)],
        visits=[
            visit("v-first", "c-ann", "08:00"),
            visit("v-second", "c-ann", "08:30", after=link | {"distinct_workers": distinct}),
        ],
        history=knows(("w-amy", "c-ann"), ("w-bea", "c-ann")),
        weights={"home_travel_minute": 1},
    )


def every_term_bites() -> Problem:
    """Six generated clients in the week November ends, made so that every objective term bites.

    Every weight is above zero (the continuity policy too: at most one carer a client a week,
    a primary carer for 90% of the visits); every visit may start up to 30 minutes late; one
    visit needs a skill nobody has; one coordinator has no shifts, so their clients go unseen
    in the month that ends this week.
    """
    raw: Raw = generate(6, 1)
    raw["weights"] = {
        "home_travel_minute": 0.5,
        "max_late_minute": 3,
        "faces_cap": 1,
        "faces_over_cap": 10,
        "primary_carer_share": 0.9,
        "primary_share_shortfall": 5,
        "face_travel_minutes": 5,
        "unfamiliar_visit": 2,
    }
    first = raw["visits"][0]
    raw["visits"].append(
        {
            **{k: first[k] for k in ("client", "earliest_start", "latest_start")},
            "id": "v-nobody-can",
            "duration_minutes": 30,
            "skills": ["a skill nobody has"],
        }
    )
    for each in raw["visits"]:
        each["late_allowed_minutes"] = 30
    next(w for w in raw["workers"] if w.get("role") == "coordinator")["shifts"] = []
    return Problem.model_validate(raw)


# -- reading a rota ------------------------------------------------------------------------------


def crews(rota: Rota) -> dict[str, list[str]]:
    return {a.visit: sorted(a.workers) for a in rota.assignments}


def starts(rota: Rota) -> dict[str, datetime]:
    return {a.visit: a.start for a in rota.assignments}


def reasons(rota: Rota) -> dict[str, str]:
    return {u.visit: u.reason for u in rota.unassigned}
