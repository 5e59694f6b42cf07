"""A seeded generator of realistic, synthetic home-care agencies in the rota contract's shape.

:func:`generate` returns a contract problem (``shared/contract.md``) as a plain JSON-able dict;
``solver.contract.Problem.model_validate(generate(...))`` accepts it. The same arguments always
give the same dict, byte for byte once dumped: all randomness comes from :class:`random.Random`
streams seeded from ``seed`` (string seeds, so ``PYTHONHASHSEED`` plays no part).

What a generated agency looks like:

- **Town.** Clients live in 3-6 neighbourhood clusters (more for large agencies) around a town
  centre (Leeds, 53.80, -1.55), each a gaussian of 0.6-1.2 km; a few live out on their own.
  Carers live all over the same town; most drive, a few walk, cycle or take the bus. Travel is
  the contract's default haversine model.
- **Care packages.** 1-4 calls a day in the morning (07:00-10:00), lunch (11:30-13:30),
  tea (16:00-18:00) and bed (19:30-22:00) rounds, every day or weekdays only, plus a weekly
  60-minute shopping/cleaning call for some clients. Durations are 15/30/45/60 minutes; a
  call's window is its preferred time +/- 15 or 30 minutes and lies within one day.
- **Needs.** 8-20% of visits are double-ups (two carers, ``hoist``); ``medication``,
  ``dementia`` and ``catheter`` are required where a client's needs say so. A few clients
  accept female carers only, exclude a carer or name a preferred one. A handful of clients have
  lunch "at least 3 hours after breakfast" (an ``after`` link whose windows allow it).
- **Carers.** Early (07:00-14:00/14:30), late (14:00 or 16:00-22:00) and split (morning plus
  evening) shifts on 5 or 6 days a week, with contracted, weekly and daily caps. The workforce is
  sized from the demand: on every day, in every stretch of an hour or more, the visit minutes
  whose windows lie in it stay under about two thirds of the carers' shift minutes there, and
  all shift minutes come to about 1.7-2x all visit minutes (double-ups counted twice). Skills
  are spread so that every visit has at least two more qualified carers on shift than it needs.
  (A solver that staffs 97-100% of the visits is the aim; see ``make_carers``.)
- **Coordinators.** One per 30-60 clients, each with a geographic patch, all skills and a day or
  so of field time a week (a few 2.5-3.5 hour shifts; a shift on the days of a month that ends
  inside the period).
- **History.** Two weeks of visits before the period giving each client a core team of 2-4
  qualified carers, and coordinator visits already made this month for 30-60% of clients.

Typical use::

    from scenarios.generator import SIZES, generate, write_scenario

    problem = generate(SIZES["medium"], seed=2)  # a dict
    write_scenario("scenarios/medium.json", SIZES["medium"], seed=2)

The bundled ``scenarios/small.json`` (``generate(40, seed=1)``) and ``scenarios/medium.json``
(``generate(150, seed=2)``) are rewritten with::

    python -c "from scenarios.generator import write_bundled_scenarios as w; w()"
"""

from __future__ import annotations

import json
import math
import random
from calendar import monthrange
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

__all__ = ["BUNDLED", "SIZES", "generate", "write_bundled_scenarios", "write_scenario"]

SIZES: dict[str, int] = {"small": 40, "medium": 150, "large": 450}
"""Clients per named agency size."""

BUNDLED: dict[str, tuple[int, int]] = {"small": (40, 1), "medium": (150, 2)}
"""The scenario files shipped in this package: name -> (clients, seed)."""

TOWN_CENTRE: Final = (53.80, -1.55)
SKILLS: Final = ("hoist", "medication", "dementia", "catheter")
SPEEDS_KMH: Final = {"car": 30.0, "walk": 4.5, "bike": 14.0, "public_transport": 15.0}
ROAD_FACTOR: Final = 1.3
EARTH_RADIUS_KM: Final = 6371.0088
KM_PER_DEGREE_LAT: Final = 111.32

DAY_START: Final = 7 * 60  # the first shift starts at 07:00
DAY_END: Final = 22 * 60  # the last shift ends at 22:00

# Parts of the day over which demand and supply are balanced: [start, end) in minutes. A call
# counts in the last band that starts at or before its preferred time; a shift supplies the
# minutes it overlaps a band (14:30-16:00 serves no round and counts nowhere).
BANDS: Final = ((420, 690), (690, 870), (960, 1140), (1140, 1320))
AM, MID, TEA, EVE = range(4)

SLOT: Final = 15  # minutes; peak loads are checked over stretches between slot boundaries
N_SLOTS: Final = (DAY_END - DAY_START) // SLOT
_SPAN = np.subtract.outer(np.arange(N_SLOTS + 1), np.arange(N_SLOTS + 1)).T
SPANS: Final = (_SPAN >= 60 // SLOT).astype(np.float64)  # [i, j]: j - i is an hour or more


def _region(first: int, last: int) -> npt.NDArray[np.float64]:
    """The stretches that lie within [first, last] minutes: one round's part of the day."""
    lo, hi = (first - DAY_START) // SLOT, (last - DAY_START) // SLOT
    inside = np.zeros((N_SLOTS + 1, N_SLOTS + 1))
    inside[lo : hi + 1, lo : hi + 1] = 1.0
    return inside * SPANS


REGIONS: Final = tuple(
    _region(a, b) for a, b in ((420, 690), (690, 870), (870, 1140), (1140, 1320))
)

PEAK_TOLERANCE: Final = 30.0  # visit minutes a stretch may run over its peak load
CARER_ROUNDS: Final = 12  # rounds of letting a tenth of the carers go and hiring again

SHIFT_KINDS: Final = ("early", "split", "late")
KIND_WEIGHTS: Final = {"early": 0.35, "split": 0.30, "late": 0.35}
KINDS_FOR_BAND: Final = {
    AM: ("early", "split"),
    MID: ("early",),
    TEA: ("late", "split"),
    EVE: ("late", "split"),
}


@dataclass(frozen=True)
class _Round:
    """A care round: window starts lie in [first, last]; visits end by ``end_by``."""

    first: int
    last: int
    end_by: int
    durations: tuple[int, ...]
    weights: tuple[float, ...]


ROUNDS: Final = {
    "morning": _Round(7 * 60, 10 * 60, 11 * 60 + 30, (30, 45, 60), (0.40, 0.35, 0.25)),
    "lunch": _Round(11 * 60 + 30, 13 * 60 + 30, 14 * 60, (15, 30, 45), (0.30, 0.60, 0.10)),
    "tea": _Round(16 * 60, 18 * 60, 19 * 60, (15, 30, 45), (0.20, 0.60, 0.20)),
    "bed": _Round(19 * 60 + 30, 22 * 60, DAY_END, (15, 30, 45), (0.10, 0.60, 0.30)),
    "domestic": _Round(9 * 60 + 30, 13 * 60, 14 * 60, (60,), (1.0,)),
}

# Calls a day -> (rounds, weight) choices.
PACKAGES: Final = {
    1: ((("morning",), 0.70), (("lunch",), 0.15), (("bed",), 0.15)),
    2: ((("morning", "bed"), 0.50), (("morning", "tea"), 0.30), (("lunch", "tea"), 0.20)),
    3: (
        (("morning", "lunch", "bed"), 0.40),
        (("morning", "tea", "bed"), 0.40),
        (("morning", "lunch", "tea"), 0.20),
    ),
    4: ((("morning", "lunch", "tea", "bed"), 1.0),),
}
CALLS_PER_DAY_WEIGHTS: Final = {1: 0.25, 2: 0.30, 3: 0.25, 4: 0.20}
DOUBLE_UP_CHANCE: Final = {"morning": 0.95, "lunch": 0.6, "tea": 0.8, "bed": 0.95}

STREET_WORDS: Final = (
    "Leafy", "Mill", "Church", "Station", "Park", "Victoria", "Albert", "Chapel", "Meadow",
    "Oak", "Beech", "Elm", "Ash", "Willow", "Cedar", "Hawthorn", "Moor", "Hill", "Kirkstall",
    "Grange", "Primrose", "Orchard", "Brook", "Holly", "Rose", "Chestnut", "Vicarage", "Fern",
    "Heather", "Clarendon", "Woodhouse", "Rowan", "Sycamore", "Bramley", "Aire", "Cross",
)  # fmt: skip
STREET_KINDS: Final = (
    "Road", "Street", "Lane", "Avenue", "Close", "Crescent", "Grove", "Terrace", "Way",
    "Gardens", "Drive", "Mount", "View", "Place",
)  # fmt: skip
AGENCY_FIRST: Final = (
    "Northside", "Riverside", "Aire Valley", "Meadowbank", "Kirkgate", "Parkside", "Hillcrest",
    "Westfield", "Brookside", "Oakwood",
)  # fmt: skip
AGENCY_SECOND: Final = ("Homecare", "Care Services", "Home Support", "Community Care")
ACCESS_NOTES: Final = (
    "Key safe {code}.",
    "Key safe {code}; lock it again on leaving.",
    "Daughter lets carers in; ring twice.",
    "Ring the bell and wait: slow to the door.",
    "Side door; key safe {code}.",
)
PREFERENCES: Final = (
    "Tea with milk, no sugar.",
    "Likes the radio on.",
    "Prefers a shower to a strip wash.",
    "Encourage fluids and record intake.",
    "Check skin on heels for redness.",
    "Offer a hot meal at lunch; check the fridge for dates.",
    "Feed the cat.",
    "Likes a chat about the cricket.",
    "Wears hearing aids: check batteries.",
)


# ---------------------------------------------------------------------------------------------
# Small helpers


def _sub_rng(seed: int, label: str) -> random.Random:
    """An independent stream per stage, so a change to one stage leaves the others alone."""
    return random.Random(f"carerota-scenario:{seed}:{label}")


def _haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + (
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _offset(origin: tuple[float, float], north_km: float, east_km: float) -> tuple[float, float]:
    lat = origin[0] + north_km / KM_PER_DEGREE_LAT
    lon = origin[1] + east_km / (KM_PER_DEGREE_LAT * math.cos(math.radians(origin[0])))
    return (round(lat, 6), round(lon, 6))


def _gaussian_place(
    rng: random.Random, origin: tuple[float, float], sigma_km: float
) -> tuple[float, float]:
    return _offset(origin, rng.gauss(0.0, sigma_km), rng.gauss(0.0, sigma_km))


def _disc_place(
    rng: random.Random, origin: tuple[float, float], radius_km: float
) -> tuple[float, float]:
    distance = radius_km * math.sqrt(rng.random())
    angle = rng.uniform(0.0, 2 * math.pi)
    return _offset(origin, distance * math.cos(angle), distance * math.sin(angle))


def _weighted(rng: random.Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def _round_to(value: float, step: int) -> int:
    return int(step * round(value / step))


def _band_of(minute: int) -> int:
    return max(i for i, (lo, _) in enumerate(BANDS) if lo <= minute or i == 0)


def _overlap(pieces: Iterable[tuple[int, int]], lo: int, hi: int) -> int:
    return sum(max(0, min(end, hi) - max(begin, lo)) for begin, end in pieces)


def _contribution(pieces: tuple[tuple[int, int], ...]) -> npt.NDArray[np.float64]:
    """``[i, j]``: the shift minutes these pieces hold between slot boundaries i and j."""
    slots = np.zeros(N_SLOTS)
    for begin, end in pieces:
        slots[(begin - DAY_START) // SLOT : (end - DAY_START) // SLOT] = SLOT
    prefix = np.concatenate(([0.0], np.cumsum(slots)))
    return (prefix[None, :] - prefix[:, None]) * SPANS


def _is_valid_local(moment: datetime, zone: ZoneInfo) -> bool:
    """A wall-clock time names one instant unless a clock change skips or repeats it."""
    return moment.replace(tzinfo=zone, fold=0).utcoffset() == (
        moment.replace(tzinfo=zone, fold=1).utcoffset()
    )


def _legal(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment``, or if a clock change skips or repeats it, the next valid quarter hour on the
    same day (failing that, the latest valid one before it)."""
    if _is_valid_local(moment, zone):
        return moment
    later = [moment + timedelta(minutes=15 * n) for n in range(1, 4 * 24)]
    earlier = [moment - timedelta(minutes=15 * n) for n in range(1, 4 * 24)]
    for candidate in later + earlier:
        if candidate.date() == moment.date() and _is_valid_local(candidate, zone):
            return candidate
    raise ValueError(f"no valid wall-clock time on {moment.date()} in {zone.key}")


def _local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return _legal(datetime(day.year, day.month, day.day) + timedelta(minutes=minute), zone)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------------------------------------
# The agency's parts, before they are written out


@dataclass
class _Carer:
    home: tuple[float, float]
    mode: str
    gender: str
    kind: str
    pieces: tuple[tuple[int, int], ...]
    weekdays: frozenset[int]
    skills: set[str] = field(default_factory=set)

    def fits(self, earliest: int, latest: int, duration: int) -> bool:
        """Some start in [earliest, latest] puts the whole visit inside one of the pieces."""
        return any(max(earliest, a) <= min(latest, b - duration) for a, b in self.pieces)

    def minutes_per_day(self) -> int:
        return sum(b - a for a, b in self.pieces)


@dataclass
class _Call:
    """A recurring call: the same round, time and needs on each of its weekdays."""

    round: str
    preferred: int
    half: int
    duration: int
    weekdays: frozenset[int]
    workers: int = 1
    skills: set[str] = field(default_factory=set)
    after_round: str | None = None

    @property
    def earliest(self) -> int:
        return self.preferred - self.half

    @property
    def latest(self) -> int:
        return self.preferred + self.half


@dataclass
class _Client:
    location: tuple[float, float]
    cluster: int
    address: str
    gender_preference: str | None
    needs: set[str]
    calls: list[_Call]
    coordinator: int = 0
    preferred: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)
    team: list[int] = field(default_factory=list)
    care_plan: str = ""

    def weekdays(self) -> frozenset[int]:
        return frozenset().union(*(c.weekdays for c in self.calls))


@dataclass
class _Coordinator:
    home: tuple[float, float]
    gender: str
    shifts: list[tuple[int, int, int]]  # (day index, start minute, end minute)
    max_minutes: int


# ---------------------------------------------------------------------------------------------
# The generator


class _Agency:
    def __init__(
        self,
        clients: int,
        seed: int,
        period: list[date],
        zone: ZoneInfo,
        double_ups: float | None = None,
        supply: float = 1.0,
    ) -> None:
        self.n_clients = clients
        self.seed = seed
        self.double_ups = double_ups
        self.supply = supply
        self.period = period
        self.zone = zone
        self.clients: list[_Client] = []
        self.carers: list[_Carer] = []
        self.coordinators: list[_Coordinator] = []
        self.centres: list[tuple[float, float]] = []
        self.town_radius_km = 0.0
        self.history_visits: list[tuple[int, int, date]] = []
        self.history_coordinator: list[tuple[int, int, date]] = []

    # -- geography and clients -----------------------------------------------------------

    def make_town(self) -> None:
        rng = _sub_rng(self.seed, "town")
        self.town_radius_km = 2.5 + 1.5 * math.sqrt(self.n_clients / 40)
        n_clusters = max(rng.randint(3, 6), min(self.n_clients // 60, 10))
        for _ in range(n_clusters):
            distance = rng.uniform(0.25, 0.8) * self.town_radius_km
            angle = rng.uniform(0.0, 2 * math.pi)
            self.centres.append(
                _offset(TOWN_CENTRE, distance * math.cos(angle), distance * math.sin(angle))
            )
        self.sigmas = [rng.uniform(0.6, 1.2) for _ in self.centres]
        self.cluster_weights = [rng.uniform(0.5, 1.5) for _ in self.centres]
        words = rng.sample(STREET_WORDS, len(STREET_WORDS))
        self.streets: list[list[str]] = []
        for i in range(n_clusters + 1):  # the last list is for clients out on their own
            kinds = rng.sample(STREET_KINDS, 6)
            own = words[(3 * i) % len(words) : (3 * i) % len(words) + 3] or words[:3]
            self.streets.append([f"{w} {k}" for w in own for k in kinds[:2]])

    def make_clients(self) -> None:
        rng = _sub_rng(self.seed, "clients")
        addresses: set[str] = set()
        for _ in range(self.n_clients):
            if rng.random() < 0.08:
                cluster = len(self.centres)
                location = _disc_place(rng, TOWN_CENTRE, self.town_radius_km)
            else:
                cluster = rng.choices(range(len(self.centres)), weights=self.cluster_weights)[0]
                location = _gaussian_place(rng, self.centres[cluster], self.sigmas[cluster])
            while True:
                address = f"{rng.randint(1, 180)} {rng.choice(self.streets[cluster])}"
                if address not in addresses:
                    addresses.add(address)
                    break
            weekdays = frozenset(range(7) if rng.random() < 0.78 else range(5))
            needs = {
                need
                for need, chance in (("medication", 0.45), ("dementia", 0.18), ("catheter", 0.05))
                if rng.random() < chance
            }
            per_day = _weighted(rng, list(CALLS_PER_DAY_WEIGHTS.items()))
            rounds: tuple[str, ...] = _weighted(rng, PACKAGES[per_day])
            calls = [self.call(rng, name, weekdays) for name in rounds]
            if rng.random() < 0.30:
                day = rng.choice((0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5))
                calls.append(self.call(rng, "domestic", frozenset({day})))
            gender = "female" if rng.random() < 0.08 else None
            self.clients.append(_Client(location, cluster, address, gender, needs, calls))

    def call(self, rng: random.Random, name: str, weekdays: frozenset[int]) -> _Call:
        spec = ROUNDS[name]
        duration = rng.choices(spec.durations, weights=spec.weights)[0]
        half = 30 if name == "domestic" or rng.random() < 0.65 else 15
        preferred = self._preferred(rng, name, duration, half)
        return _Call(name, preferred, half, duration, weekdays)

    @staticmethod
    def _preferred(rng: random.Random, name: str, duration: int, half: int) -> int:
        spec = ROUNDS[name]
        low = spec.first + half
        high = min(spec.last, spec.end_by - duration) - half
        return rng.randrange(low, high + 1, 15) if high >= low else low

    def add_needs(self) -> None:
        """Double-ups up to a drawn share of visits, then the skills each call requires."""
        rng = _sub_rng(self.seed, "needs")
        total = sum(self._visit_count(c) for c in self.clients)
        # Drawn even when the share is given, so the rest of the agency draws as it would.
        drawn = rng.uniform(0.10, 0.15)
        target = drawn if self.double_ups is None else self.double_ups
        order = sorted(
            range(len(self.clients)),
            key=lambda i: (len(self.clients[i].calls) < 2, rng.random()),
        )
        doubles = 0
        for index in order:
            if doubles >= target * total:
                break
            client = self.clients[index]
            before = self._visit_count(client)
            client.needs.add("hoist")
            care = [c for c in client.calls if c.round != "domestic"]
            for call in care:
                call.weekdays = frozenset(range(7))
            chosen = [c for c in care if rng.random() < DOUBLE_UP_CHANCE[c.round]] or care[:1]
            for call in chosen:
                call.workers = 2
                call.skills.add("hoist")
                if call.duration < 30:
                    call.duration = 30
                    call.preferred = self._preferred(rng, call.round, 30, call.half)
            total += self._visit_count(client) - before
            doubles += sum(self._days_of(c) for c in chosen)
        for client in self.clients:
            care = sorted(
                (c for c in client.calls if c.round != "domestic"), key=lambda c: c.preferred
            )
            if "medication" in client.needs:
                medicated = {care[0].round, care[-1].round}
                medicated.update(c.round for c in care if c.round == "lunch" and rng.random() < 0.4)
                for call in care:
                    if call.round in medicated:
                        call.skills.add("medication")
            if "catheter" in client.needs:
                care[0].skills.add("catheter")
                care[-1].skills.add("catheter")
            if "dementia" in client.needs:
                for call in client.calls:
                    call.skills.add("dementia")
        self._add_after_links(rng)

    def _add_after_links(self, rng: random.Random) -> None:
        """Lunch at least three hours after breakfast, for a handful of medicated clients."""
        wanted = max(1, round(len(self.clients) * rng.uniform(0.015, 0.03)))
        candidates = [
            c
            for c in self.clients
            if {"morning", "lunch"} <= {k.round for k in c.calls} and "medication" in c.needs
        ]
        for client in rng.sample(candidates, min(wanted, len(candidates))):
            morning = next(c for c in client.calls if c.round == "morning")
            lunch = next(c for c in client.calls if c.round == "lunch")
            preferred = max(lunch.preferred, morning.preferred + 180)
            half = min(lunch.half, ROUNDS["lunch"].end_by - lunch.duration - preferred)
            if half < 15:
                continue  # the windows would not allow it; leave this client without a link
            # Starting both at their preferred times keeps the link: 180 <= gap <= 600.
            lunch.preferred, lunch.half, lunch.after_round = preferred, half, "morning"
            lunch.skills.add("medication")

    def _days_of(self, call: _Call) -> int:
        return sum(1 for d in self.period if d.weekday() in call.weekdays)

    def _visit_count(self, client: _Client) -> int:
        return sum(self._days_of(c) for c in client.calls)

    # -- carers ---------------------------------------------------------------------------

    @staticmethod
    def pieces(rng: random.Random, kind: str) -> tuple[tuple[int, int], ...]:
        """One day's shift pieces: early, late, or split (morning plus evening)."""
        if kind == "early":
            return ((DAY_START, rng.choice((840, 870))),)
        if kind == "late":
            return ((rng.choice((840, 840, 960)), DAY_END),)
        return ((DAY_START, rng.choice((690, 720, 750))), (rng.choice((960, 990, 1020)), DAY_END))

    @staticmethod
    def _days_off(rng: random.Random, weekday: int) -> frozenset[int]:
        """Five or six working weekdays, one of them ``weekday``."""
        n_days = 6 if rng.random() < 0.35 else 5
        others = rng.sample([w for w in range(7) if w != weekday], n_days - 1)
        return frozenset({weekday, *others})

    def new_carer(
        self,
        rng: random.Random,
        kind: str,
        pieces: tuple[tuple[int, int], ...],
        weekdays: frozenset[int],
    ) -> _Carer:
        mode = _weighted(
            rng, (("car", 0.82), ("walk", 0.08), ("bike", 0.06), ("public_transport", 0.04))
        )
        if mode == "car" and rng.random() < 0.4:
            home = _disc_place(rng, TOWN_CENTRE, self.town_radius_km + 1.0)
        else:
            cluster = rng.choices(range(len(self.centres)), weights=self.cluster_weights)[0]
            home = _gaussian_place(rng, self.centres[cluster], 2.0 if mode == "car" else 0.7)
        gender = "female" if rng.random() < 0.85 else "male"
        carer = _Carer(home, mode, gender, kind, pieces, weekdays)
        self.carers.append(carer)
        return carer

    def _peak_demand(self) -> npt.NDArray[np.float64]:
        """``[day, i, j]``: visit minutes (double-ups twice) whose whole window, start to
        latest end, lies between slot boundaries ``i`` and ``j``; zero for spans under an hour.
        """
        table = np.zeros((len(self.period), N_SLOTS + 1, N_SLOTS + 1))
        for client in self.clients:
            for call in client.calls:
                first = (call.earliest - DAY_START) // SLOT
                last = -(-(call.latest + call.duration - DAY_START) // SLOT)
                for d, day in enumerate(self.period):
                    if day.weekday() in call.weekdays:
                        table[d, first, last] += call.duration * call.workers
        table = np.flip(np.cumsum(np.flip(table, axis=1), axis=1), axis=1)
        table = np.cumsum(table, axis=2)
        return table * SPANS

    def make_carers(self) -> None:
        """Hire carers where supply is thinnest until no stretch of any day is overloaded.

        For every day and every stretch of at least an hour, the visit minutes whose windows lie
        inside it (less a small tolerance) must be at most a drawn peak load (about 0.68) of the
        carers' shift minutes there, and all shift minutes together must come to a drawn
        multiple (about 1.75) of all visit minutes. Each hire is the best of a few drawn shift
        patterns, on the weekdays where it helps most; then carers the targets do not need are
        let go. A few rounds of letting a random tenth go and hiring again keep the leanest.
        """
        rng = _sub_rng(self.seed, "carers")
        need = np.maximum(self._peak_demand() - PEAK_TOLERANCE, 0.0) / rng.uniform(0.66, 0.70)
        need *= self.supply
        total_demand = sum(
            call.duration * call.workers * self._days_of(call)
            for client in self.clients
            for call in client.calls
        )
        plan = _Staffing(self, need, self.supply * rng.uniform(1.70, 1.80) * total_demand)
        plan.fill(rng)
        plan.prune(rng)
        for _ in range(CARER_ROUNDS):
            trial = plan.copy()
            for shape in rng.sample(
                trial.shapes, min(len(trial.shapes), max(2, len(trial.shapes) // 10))
            ):
                trial.remove(shape)
            trial.fill(rng)
            trial.prune(rng)
            if trial.total < plan.total:
                plan = trial
        for kind, pieces, weekdays in plan.shapes:
            self.new_carer(rng, kind, pieces, weekdays)

    def give_skills(self) -> None:
        """Skills by realistic shares, then more holders wherever a skill's demand is thin."""
        rng = _sub_rng(self.seed, "skills")
        for carer in self.carers:
            carer.skills = {
                s
                for s, p in (("medication", 0.75), ("hoist", 0.5), ("dementia", 0.4))
                if rng.random() < p
            }
            if rng.random() < (0.35 if "medication" in carer.skills else 0.1):
                carer.skills.add("catheter")
            if "dementia" in carer.skills and rng.random() < 0.5:
                carer.skills.add("medication")
        for skill in SKILLS:
            demand: dict[tuple[int, int], int] = {}
            for client in self.clients:
                for call in client.calls:
                    if skill in call.skills:
                        band = _band_of(call.preferred)
                        for d, day in enumerate(self.period):
                            if day.weekday() in call.weekdays:
                                key = (d, band)
                                demand[key] = demand.get(key, 0) + call.duration * call.workers
            for key in sorted(demand):
                d, band = key
                lo, hi = BANDS[band]
                weekday = self.period[d].weekday()
                on_shift = [
                    c
                    for c in self.carers
                    if weekday in c.weekdays and _overlap(c.pieces, lo, hi) > 0
                ]
                while (
                    sum(_overlap(c.pieces, lo, hi) for c in on_shift if skill in c.skills)
                    < 1.5 * demand[key]
                ):
                    others = [c for c in on_shift if skill not in c.skills]
                    if not others:
                        break
                    rng.choice(others).skills.add(skill)
            holders = [c for c in self.carers if skill in c.skills]
            others = [c for c in self.carers if skill not in c.skills]
            for carer in rng.sample(others, max(0, min(len(others), 3 - len(holders)))):
                carer.skills.add(skill)

    # -- coordinators -----------------------------------------------------------------------

    def make_coordinators(self) -> None:
        rng = _sub_rng(self.seed, "coordinators")
        n = len(self.clients)
        fewest = max(1, math.ceil(n / 60))
        most = max(fewest, n // 30)
        count = min(most, max(fewest, round(n / rng.uniform(38, 52))))
        # Patches: clients ordered by bearing from the town centre, cut into equal runs.
        turn = rng.uniform(-math.pi, math.pi)

        def bearing(i: int) -> float:
            lat, lon = self.clients[i].location
            angle = math.atan2(lat - TOWN_CENTRE[0], lon - TOWN_CENTRE[1]) - turn
            return angle % (2 * math.pi)

        order = sorted(range(n), key=lambda i: (bearing(i), i))
        for k in range(count):
            patch = order[k * n // count : (k + 1) * n // count]
            for i in patch:
                self.clients[i].coordinator = k
            lat = sum(self.clients[i].location[0] for i in patch) / max(1, len(patch))
            lon = sum(self.clients[i].location[1] for i in patch) / max(1, len(patch))
            home = _gaussian_place(rng, (lat, lon), 1.0) if patch else TOWN_CENTRE
            gender = "female" if rng.random() < 0.8 else "male"
            shifts, budget = self._field_time(rng)
            self.coordinators.append(_Coordinator(home, gender, shifts, budget))

    def _field_time(self, rng: random.Random) -> tuple[list[tuple[int, int, int]], int]:
        """A few 2.5-3.5 hour shifts out of the office on different days, and their budget.

        Where a calendar month ends inside the period, one shift falls on that month's days, so
        that the coordinator rule can be met at all.
        """
        budget = rng.choice((480, 540, 600, 660, 720))
        slots = (420, 690, 960)
        days = list(range(len(self.period)))
        chosen: list[int] = []
        for day in self.period:
            if (day + timedelta(days=1)).month != day.month:  # the month ends inside the period
                month = [e for e in days if self.period[e].month == day.month and e not in chosen]
                working = [e for e in month if self.period[e].weekday() < 5] or month
                if working:
                    chosen.append(rng.choice(working))
        weekdays = [d for d in days if self.period[d].weekday() < 5 and d not in chosen]
        weekend = [d for d in days if self.period[d].weekday() >= 5 and d not in chosen]
        chosen += rng.sample(weekdays, len(weekdays)) + rng.sample(weekend, len(weekend))
        shifts: list[tuple[int, int, int]] = []
        total = 0
        for d in chosen:
            if total >= budget:
                break
            start = rng.choice(slots)
            length = rng.choice((150, 180, 210))
            shifts.append((d, start, start + length))
            total += length
        return sorted(shifts), min(budget, total)

    # -- preferences, eligibility, teams -------------------------------------------------------

    def add_exclusions(self) -> None:
        rng = _sub_rng(self.seed, "exclusions")
        for client in self.clients:
            if rng.random() < 0.05:
                client.excluded = [rng.randrange(len(self.carers))]

    def ensure_eligible(self) -> None:
        """Every visit gets at least two more qualified carers on shift than it needs.

        Where too few are on shift, the nearest-qualified carers on shift are trained; where
        nobody is, a carer is hired whose shift pattern fits the call.
        """
        rng = _sub_rng(self.seed, "eligible")
        weekdays_in_period = {d.weekday() for d in self.period}
        for ci, client in enumerate(self.clients):
            for call in client.calls:
                timely = [
                    i
                    for i, c in enumerate(self.carers)
                    if i not in client.excluded and self._timely(c, client, call)
                ]
                for weekday in sorted(call.weekdays & weekdays_in_period):
                    while True:
                        on_shift = [i for i in timely if weekday in self.carers[i].weekdays]
                        qualified = [i for i in on_shift if call.skills <= self.carers[i].skills]
                        if len(qualified) >= call.workers + 2:
                            break
                        trainees = [i for i in on_shift if i not in qualified]
                        if trainees:
                            gap = {i: len(call.skills - self.carers[i].skills) for i in trainees}
                            fewest = min(gap.values())
                            pick = rng.choice([i for i in trainees if gap[i] == fewest])
                            self.carers[pick].skills |= call.skills
                            continue
                        timely.append(self._hire_for(rng, ci, client, call, weekday))

    @staticmethod
    def _timely(carer: _Carer, client: _Client, call: _Call) -> bool:
        return carer.fits(
            call.earliest, call.latest, call.duration
        ) and client.gender_preference in (None, carer.gender)

    def _hire_for(
        self, rng: random.Random, ci: int, client: _Client, call: _Call, weekday: int
    ) -> int:
        band = _band_of(call.preferred)
        kinds = [
            k
            for k in KINDS_FOR_BAND[band]
            if k != "split" or call.latest + call.duration <= 690 or call.earliest >= 1020
        ] or list(SHIFT_KINDS)
        kind = rng.choice(kinds)
        carer = self.new_carer(rng, kind, self.pieces(rng, kind), self._days_off(rng, weekday))
        carer.skills |= call.skills
        if client.gender_preference is not None:
            carer.gender = client.gender_preference
        if not carer.fits(call.earliest, call.latest, call.duration):
            raise RuntimeError(f"no shift pattern fits client {ci}'s {call.round} call")
        return len(self.carers) - 1

    def make_teams(self) -> None:
        """A core team of 2-4 qualified carers per client, covering the client's rounds."""
        rng = _sub_rng(self.seed, "teams")
        load = [0] * len(self.carers)
        for client in self.clients:
            client.team = self._team(rng, client, load)
            for i in client.team:
                load[i] += 1
            if rng.random() < 0.15:
                client.preferred = [rng.choice(client.team)]

    def _team(self, rng: random.Random, client: _Client, load: list[int]) -> list[int]:
        needs: set[str] = set().union(*(c.skills for c in client.calls))
        allowed = [
            i
            for i, c in enumerate(self.carers)
            if i not in client.excluded and client.gender_preference in (None, c.gender)
        ]
        qualified = [i for i in allowed if needs <= self.carers[i].skills]
        if len(qualified) < 2:  # train the nearest carers up
            nearest = sorted(
                (i for i in allowed if i not in qualified),
                key=lambda i: (_haversine_km(self.carers[i].home, client.location), i),
            )
            for i in nearest[: 2 - len(qualified)]:
                self.carers[i].skills |= needs
                qualified.append(i)
        size = min(len(qualified), rng.choice((2, 3, 3, 4)))

        def weight(i: int) -> float:
            km = _haversine_km(self.carers[i].home, client.location)
            return 1.0 / ((0.5 + km) * (1 + load[i]))

        def covers(i: int, call: _Call) -> bool:
            carer = self.carers[i]
            return bool(carer.weekdays & call.weekdays) and carer.fits(
                call.earliest, call.latest, call.duration
            )

        team: list[int] = []
        for call in sorted(client.calls, key=lambda c: (c.preferred, c.round)):
            if len(team) >= size:
                break
            if any(covers(i, call) for i in team):
                continue
            options = [i for i in qualified if i not in team and covers(i, call)]
            if options:
                team.append(rng.choices(options, weights=[weight(i) for i in options])[0])
        while len(team) < size:
            options = [i for i in qualified if i not in team]
            team.append(rng.choices(options, weights=[weight(i) for i in options])[0])
        return team

    def make_history(self) -> None:
        rng = _sub_rng(self.seed, "history")
        first = self.period[0]
        before = [first - timedelta(days=n) for n in range(14, 0, -1)]
        for ci, client in enumerate(self.clients):
            care_days = client.weekdays()
            for wi in client.team:
                worked = self.carers[wi].weekdays
                days = [d for d in before if d.weekday() in care_days and d.weekday() in worked]
                days = days or [d for d in before if d.weekday() in care_days] or before
                for day in sorted(rng.sample(days, min(len(days), rng.randint(2, 4)))):
                    self.history_visits.append((ci, wi, day))
        if first.day != 1:
            elapsed = (first.day - 1) / monthrange(first.year, first.month)[1]
            # Coordinators pace their rounds: the share already seen grows with the month, so a
            # period starting on the 30th leaves a handful of clients, not half the caseload.
            share = min(0.92, max(0.1, 0.95 * elapsed + rng.uniform(-0.05, 0.05)))
            month_days = [first.replace(day=n) for n in range(1, first.day)]
            seen = sorted(rng.sample(range(len(self.clients)), round(share * len(self.clients))))
            for ci in seen:
                day = rng.choice(month_days)
                self.history_coordinator.append((self.clients[ci].coordinator, ci, day))
            self.history_coordinator.sort(key=lambda e: (e[2], e[1]))

    def write_care_plans(self) -> None:
        rng = _sub_rng(self.seed, "plans")
        for client in self.clients:
            notes: list[str] = []
            if "hoist" in client.needs:
                notes.append("Hoist transfers: two carers; sling is in the bedroom.")
            if "dementia" in client.needs:
                notes.append("Lives with dementia: calm, unhurried approach; explain each step.")
            if "medication" in client.needs:
                notes.append("Medication from the blister pack; sign the MAR chart.")
            if "catheter" in client.needs:
                notes.append("Catheter care: empty and change the bag, record output.")
            if any(c.round == "domestic" for c in client.calls):
                notes.append("Weekly shopping and cleaning call: list is on the fridge.")
            if any(c.after_round for c in client.calls):
                notes.append("Paracetamol at breakfast and lunch: at least 3 hours apart.")
            if client.gender_preference == "female":
                notes.append("Female carers only.")
            notes.append(rng.choice(ACCESS_NOTES).format(code=rng.randint(1000, 9999)))
            notes.append(rng.choice(PREFERENCES))
            client.care_plan = " ".join(notes)

    # -- output -------------------------------------------------------------------------------

    def build(self, agency: str | None) -> dict[str, Any]:
        self.make_town()
        self.make_clients()
        self.add_needs()
        self.make_carers()
        self.give_skills()
        self.make_coordinators()
        self.add_exclusions()
        self.ensure_eligible()
        self.make_teams()
        self.make_history()
        self.write_care_plans()
        if agency is None:
            rng = _sub_rng(self.seed, "agency")
            agency = f"{rng.choice(AGENCY_FIRST)} {rng.choice(AGENCY_SECOND)}"
        return {
            "schema_version": 1,
            "agency": agency,
            "timezone": self.zone.key,
            "period": {"start": self.period[0].isoformat(), "end": self.period[-1].isoformat()},
            "travel": {
                "model": "haversine",
                "road_factor": ROAD_FACTOR,
                "speeds_kmh": dict(SPEEDS_KMH),
            },
            "workers": self._workers_out(),
            "clients": self._clients_out(),
            "visits": self.visits_out(),
            "history": {
                "visits": [
                    {"client": f"c{ci:04d}", "worker": f"w{wi:03d}", "date": day.isoformat()}
                    for ci, wi, day in self.history_visits
                ],
                "coordinator_visits": [
                    {"coordinator": f"k{k:02d}", "client": f"c{ci:04d}", "date": day.isoformat()}
                    for k, ci, day in self.history_coordinator
                ],
            },
        }

    def _shift(self, d: int, start: int, end: int) -> dict[str, str]:
        day = self.period[d]
        begin, finish = _local(day, start, self.zone), _local(day, end, self.zone)
        if finish <= begin:
            finish = begin + timedelta(minutes=15)
        return {"start": _text(begin), "end": _text(finish)}

    def _workers_out(self) -> list[dict[str, Any]]:
        rng = _sub_rng(self.seed, "contracts")
        out: list[dict[str, Any]] = []
        for i, carer in enumerate(self.carers):
            days = [d for d, day in enumerate(self.period) if day.weekday() in carer.weekdays]
            shifts = [self._shift(d, a, b) for d in days for a, b in carer.pieces]
            available = len(days) * carer.minutes_per_day()
            weekly = max(60, _round_to(available * rng.uniform(0.8, 0.95), 30))
            contracted = _round_to(weekly * rng.uniform(0.6, 0.8), 30)
            out.append(
                {
                    "id": f"w{i:03d}",
                    "name": f"Carer {i}",
                    "role": "carer",
                    "home": {"lat": carer.home[0], "lon": carer.home[1]},
                    "travel_mode": carer.mode,
                    "skills": sorted(carer.skills),
                    "gender": carer.gender,
                    "shifts": shifts,
                    "max_minutes_per_week": weekly,
                    "max_minutes_per_day": rng.choice((540, 600, 600, 660)),
                    "contracted_minutes_per_week": contracted,
                }
            )
        for k, boss in enumerate(self.coordinators):
            out.append(
                {
                    "id": f"k{k:02d}",
                    "name": f"Coordinator {k}",
                    "role": "coordinator",
                    "home": {"lat": boss.home[0], "lon": boss.home[1]},
                    "travel_mode": "car",
                    "skills": sorted(SKILLS),
                    "gender": boss.gender,
                    "shifts": [self._shift(d, a, b) for d, a, b in boss.shifts],
                    "max_minutes_per_week": boss.max_minutes,
                }
            )
        return out

    def _clients_out(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, client in enumerate(self.clients):
            entry: dict[str, Any] = {
                "id": f"c{i:04d}",
                "name": f"Client {i}",
                "location": {"lat": client.location[0], "lon": client.location[1]},
                "address": client.address,
                "coordinator": f"k{client.coordinator:02d}",
                "preferred_workers": [f"w{w:03d}" for w in client.preferred],
                "excluded_workers": [f"w{w:03d}" for w in client.excluded],
                "care_plan": client.care_plan,
            }
            if client.gender_preference is not None:
                entry["gender_preference"] = client.gender_preference
            out.append(entry)
        return out

    def visits_out(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for ci, client in enumerate(self.clients):
            for day in self.period:
                ids: dict[str, str] = {}
                calls = [c for c in client.calls if day.weekday() in c.weekdays]
                for call in sorted(calls, key=lambda c: (c.preferred, c.round)):
                    ident = f"v{len(out):05d}"
                    ids[call.round] = ident
                    early = _local(day, call.earliest, self.zone)
                    late = max(early, _local(day, call.latest, self.zone))
                    visit: dict[str, Any] = {
                        "id": ident,
                        "client": f"c{ci:04d}",
                        "earliest_start": _text(early),
                        "latest_start": _text(late),
                        "duration_minutes": call.duration,
                        "workers_required": call.workers,
                        "skills": sorted(call.skills),
                    }
                    if call.after_round is not None and call.after_round in ids:
                        visit["after"] = {
                            "visit": ids[call.after_round],
                            "min_minutes": 180,
                            "max_minutes": 600,
                        }
                    out.append(visit)
        return out


_Shape = tuple[str, tuple[tuple[int, int], ...], frozenset[int]]


class _Staffing:
    """A workforce being sized: shift shapes, their supply per stretch, and the targets."""

    def __init__(self, agency: _Agency, need: npt.NDArray[np.float64], target: float) -> None:
        self.agency = agency
        self.need = need
        self.target = target
        self.weekday_of = [day.weekday() for day in agency.period]
        self.shapes: list[_Shape] = []
        self.supply = np.zeros_like(need)
        self.total = 0

    def copy(self) -> _Staffing:
        twin = _Staffing(self.agency, self.need, self.target)
        twin.shapes = list(self.shapes)
        twin.supply = self.supply.copy()
        twin.total = self.total
        return twin

    def _days(self, shape: _Shape) -> list[int]:
        return [d for d, w in enumerate(self.weekday_of) if w in shape[2]]

    def add(self, shape: _Shape) -> None:
        days = self._days(shape)
        self.shapes.append(shape)
        self.supply[days] += _contribution(shape[1])
        self.total += sum(b - a for a, b in shape[1]) * len(days)

    def remove(self, shape: _Shape) -> None:
        days = self._days(shape)
        self.shapes.remove(shape)
        self.supply[days] -= _contribution(shape[1])
        self.total -= sum(b - a for a, b in shape[1]) * len(days)

    def fill(self, rng: random.Random) -> None:
        """Hire until every stretch and the total meet their targets."""
        while True:
            short = self.need - self.supply
            relative = np.where(self.need > 0, short / np.maximum(self.need, 1e-9), -1.0)
            flat = int(np.argmax(relative))
            d, i, j = (int(x) for x in np.unravel_index(flat, relative.shape))
            if relative[d, i, j] <= 0 and self.total >= self.target:
                return
            self.add(self._best_hire(rng, short, d, DAY_START + SLOT * (i + j) // 2))

    def _best_hire(
        self, rng: random.Random, short: npt.NDArray[np.float64], day: int, middle: int
    ) -> _Shape:
        """The best of a few drawn shapes that work on ``day`` around ``middle``: the one whose
        minutes go furthest towards what is still short."""
        first = self.weekday_of[day]
        open_need = np.maximum(short, 0.0)
        best: tuple[float, _Shape] | None = None
        for _ in range(6):
            kinds = [k for k in SHIFT_KINDS if k == "split" or (k == "early") == (middle < 840)]
            kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]
            pieces = _Agency.pieces(rng, kind)
            gain = _contribution(pieces)
            useful = [0.0] * 7
            for d, weekday in enumerate(self.weekday_of):
                covered = np.minimum(open_need[d], gain)
                useful[weekday] += sum(float(np.max(covered * region)) for region in REGIONS)
            n_days = 6 if rng.random() < 0.35 else 5
            ranked = sorted(
                (w for w in range(7) if w != first), key=lambda w: (-useful[w], rng.random())
            )
            weekdays = frozenset({first, *ranked[: n_days - 1]})
            added = sum(b - a for a, b in pieces) * sum(self.weekday_of.count(w) for w in weekdays)
            score = sum(useful[w] for w in weekdays) / max(1, added)
            if best is None or score > best[0]:
                best = (score, (kind, pieces, weekdays))
        assert best is not None
        return best[1]

    def prune(self, rng: random.Random) -> None:
        """Let go, in random order, every carer the targets can do without."""
        for shape in rng.sample(self.shapes, len(self.shapes)):
            days = self._days(shape)
            minutes = sum(b - a for a, b in shape[1]) * len(days)
            gain = _contribution(shape[1])
            if self.total - minutes >= self.target and bool(
                np.all(self.supply[days] - gain >= self.need[days])
            ):
                self.remove(shape)


# ---------------------------------------------------------------------------------------------
# Public API


def generate(
    clients: int,
    seed: int,
    *,
    start: date = date(2026, 11, 30),
    days: int = 7,
    timezone: str = "Europe/London",
    agency: str | None = None,
    double_ups: float | None = None,
    supply: float = 1.0,
) -> dict[str, Any]:
    """A synthetic agency of ``clients`` clients over ``days`` days from ``start``.

    Returns a contract problem as a plain dict (``json.dumps`` works on it as is). The same
    arguments give the same dict; ``agency`` names the agency (by default a name drawn from the
    seed). ``double_ups`` sets the share of visits that need two carers (by default drawn
    between 10% and 15%); ``supply`` scales the carers hired for the demand (below 1, a leaner
    workforce than the generator's aim of staffing nearly every visit).
    """
    if clients < 1:
        raise ValueError(f"an agency needs at least one client, not {clients}")
    if days < 1:
        raise ValueError(f"a period needs at least one day, not {days}")
    zone = ZoneInfo(timezone)
    period = [start + timedelta(days=i) for i in range(days)]
    if double_ups is not None and not 0.0 <= double_ups <= 1.0:
        raise ValueError(f"a share of double-ups lies between 0 and 1, not {double_ups}")
    if supply <= 0:
        raise ValueError(f"supply scales the workforce and must be positive, not {supply}")
    return _Agency(clients, seed, period, zone, double_ups, supply).build(agency)


def write_scenario(path: str | Path, clients: int, seed: int, **options: Any) -> dict[str, Any]:
    """Generate an agency (``options`` as for :func:`generate`) and write it as indented JSON."""
    problem = generate(clients, seed, **options)
    with Path(path).open("w", encoding="utf-8") as f:
        json.dump(problem, f, indent=1)
        f.write("\n")
    return problem


def write_bundled_scenarios(directory: str | Path | None = None) -> list[Path]:
    """Rewrite the scenario files shipped with the package (:data:`BUNDLED`) in ``directory``."""
    folder = Path(directory) if directory is not None else Path(__file__).parent
    written: list[Path] = []
    for name, (clients, seed) in BUNDLED.items():
        target = folder / f"{name}.json"
        write_scenario(target, clients, seed)
        written.append(target)
    return written
