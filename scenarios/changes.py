"""What-if changes: one pydantic model and one small function per kind of change.

A variant of a scenario is a base problem with a list of named changes. Each change kind here is
a model (the fields a scenario file gives it, validated where it is read) and a function that
takes a problem and returns a *new* problem; the base is never modified. A change that names an
id the problem does not have raises :class:`ChangeError` with the field that named it, which
:mod:`scenarios.whatif` turns into a message with the scenario file's line.

Changes work on the problem's JSON form (``model_dump(mode="json")``) and validate the result
as a :class:`~solver.contract.Problem` again, so a change can never produce a problem the
contract would reject without saying so.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from scenarios.generator import CALLS_PER_DAY_WEIGHTS, PACKAGES, _Agency, _Client, _offset
from solver.contract import Problem, TravelMode
from solver.words import plural

Raw = dict[str, Any]
Loc = tuple[str | int, ...]


class ChangeError(ValueError):
    """A change that cannot be made to this problem; ``loc`` is the field inside the change."""

    def __init__(self, message: str, loc: Loc = ()) -> None:
        super().__init__(message)
        self.loc = loc


class _Change(BaseModel):
    # No NaN or infinity: a factor or a share of infinity is a typo, not a what-if.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


# At most this many workers or clients are added by one change: a what-if for an agency, and
# a bound on the time it takes to make them (the generator draws each new client's week).
MOST_ADDED = 1000
# A window never widens or narrows by more than its day.
DAY_MINUTES = 24 * 60


def _ids(raw: Raw, field: str) -> dict[str, Raw]:
    return {item["id"]: item for item in raw[field]}


def _known(ids: Iterable[str], pool: dict[str, Raw], what: str, field: str) -> None:
    for i, ident in enumerate(ids):
        if ident not in pool:
            raise ChangeError(f"unknown {what} {ident!r}", (field, i))


def _revalidate(raw: Raw) -> Problem:
    try:
        return Problem.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ChangeError(f"the changed problem is invalid: {where}: {first['msg']}") from None


def _local(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------------------------------------
# Workers


class RemoveWorkers(_Change):
    """Workers leave: named by id, or ``count`` of them drawn from those with ``skill``."""

    kind: Literal["remove_workers"]
    ids: list[str] = Field(default_factory=list)
    count: int | None = Field(default=None, ge=1)
    skill: str | None = None
    role: Literal["carer", "coordinator"] = "carer"
    leaving: date | None = Field(
        default=None, description="last working day is the day before; None: gone all period"
    )

    @model_validator(mode="after")
    def _one_way(self) -> RemoveWorkers:
        if bool(self.ids) == (self.count is not None):
            raise ValueError("give either ids or count (with an optional skill), not both")
        return self


def remove_workers(problem: Problem, change: RemoveWorkers, rng: random.Random) -> Problem:
    """The problem without the chosen workers, or without their shifts from ``leaving`` on."""
    raw = problem.model_dump(mode="json")
    workers = _ids(raw, "workers")
    _known(change.ids, workers, "worker", "ids")
    chosen = list(change.ids)
    if change.count is not None:
        pool = sorted(
            ident
            for ident, w in workers.items()
            if w["role"] == change.role and (change.skill is None or change.skill in w["skills"])
        )
        if len(pool) < change.count:
            having = f" with skill {change.skill!r}" if change.skill else ""
            raise ChangeError(
                f"only {len(pool)} {change.role}s{having}, cannot remove {change.count}", ("count",)
            )
        chosen = sorted(rng.sample(pool, change.count))
    leaving = change.leaving
    if leaving is not None and leaving > problem.period.end:
        raise ChangeError(
            f"{leaving} is after the period ends ({problem.period.end})", ("leaving",)
        )
    if leaving is not None and leaving > problem.period.start:
        gone = set(chosen)
        for ident in chosen:
            w = workers[ident]
            w["shifts"] = [s for s in w["shifts"] if _local(s["start"]).date() < leaving]
        for v in raw["visits"]:
            if _local(v["earliest_start"]).date() >= leaving:
                v["pinned_workers"] = [w for w in v["pinned_workers"] if w not in gone]
        return _revalidate(raw)
    return _revalidate(_without_workers(raw, set(chosen)))


def _without_workers(raw: Raw, gone: set[str]) -> Raw:
    overseen = [c["id"] for c in raw["clients"] if c.get("coordinator") in gone]
    if overseen:
        boss = next(c["coordinator"] for c in raw["clients"] if c["id"] == overseen[0])
        raise ChangeError(
            f"coordinator {boss!r} oversees {plural(len(overseen), 'client')}; move them first "
            "(reassign_clients)",
            ("ids",),
        )
    raw["workers"] = [w for w in raw["workers"] if w["id"] not in gone]
    for c in raw["clients"]:
        c["preferred_workers"] = [w for w in c["preferred_workers"] if w not in gone]
        c["excluded_workers"] = [w for w in c["excluded_workers"] if w not in gone]
    for v in raw["visits"]:
        v["pinned_workers"] = [w for w in v["pinned_workers"] if w not in gone]
    history = raw["history"]
    history["visits"] = [h for h in history["visits"] if h["worker"] not in gone]
    history["coordinator_visits"] = [
        h for h in history["coordinator_visits"] if h["coordinator"] not in gone
    ]
    return raw


class AddWorkers(_Change):
    """New workers like an existing one: same home, mode, skills, shifts and caps."""

    kind: Literal["add_workers"]
    like: str
    count: int = Field(default=1, ge=1, le=MOST_ADDED)
    ids: list[str] = Field(default_factory=list, description="default: <like>-new1, ...")

    @model_validator(mode="after")
    def _named(self) -> AddWorkers:
        if self.ids and len(self.ids) != self.count:
            raise ValueError(f"{len(self.ids)} ids for {self.count} new workers")
        return self


def add_workers(problem: Problem, change: AddWorkers, _rng: random.Random) -> Problem:
    """The problem with ``count`` copies of worker ``like``, who is familiar to nobody."""
    raw = problem.model_dump(mode="json")
    workers = _ids(raw, "workers")
    _known([change.like], workers, "worker", "like")
    model = workers[change.like]
    ids = change.ids or [f"{change.like}-new{n}" for n in range(1, change.count + 1)]
    for i, ident in enumerate(ids):
        if ident in workers:
            raise ChangeError(f"worker id {ident!r} is taken", ("ids", i) if change.ids else ())
        twin = {**model, "id": ident, "name": f"New worker like {model.get('name') or change.like}"}
        raw["workers"].append(twin)
    return _revalidate(raw)


# ---------------------------------------------------------------------------------------------
# Clients

# Compass points for ``area``: (north, east) unit vectors.
DIRECTIONS: dict[str, tuple[float, float]] = {
    "centre": (0.0, 0.0),
    "north": (1.0, 0.0),
    "south": (-1.0, 0.0),
    "east": (0.0, 1.0),
    "west": (0.0, -1.0),
    "north-east": (math.sqrt(0.5), math.sqrt(0.5)),
    "north-west": (math.sqrt(0.5), -math.sqrt(0.5)),
    "south-east": (-math.sqrt(0.5), math.sqrt(0.5)),
    "south-west": (-math.sqrt(0.5), -math.sqrt(0.5)),
}
Direction = Literal[
    "centre", "north", "south", "east", "west", "north-east", "north-west", "south-east",
    "south-west",
]  # fmt: skip


class Area(_Change):
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)
    radius_km: float = Field(default=1.0, gt=0.0)


class AddClients(_Change):
    """``count`` generated clients in an area, with care packages drawn from ``package_mix``.

    ``area`` is a compass point of the town (the base clients' centroid and spread) or an
    explicit ``{lat, lon, radius_km}``. ``package_mix`` maps calls a day (1-4) to a share.
    Each new client gets visits in the base period like the generator's clients (double-ups,
    skills, care plans), and a coordinator: ``coordinator`` or, by default, the one whose
    clients live nearest. With ``assessed`` (default), each new client had that coordinator's
    assessment visit the day before the period, as agencies do before care starts.
    """

    kind: Literal["add_clients"]
    count: int = Field(ge=1, le=MOST_ADDED)
    area: Direction | Area = "centre"
    package_mix: dict[Annotated[int, Field(ge=1, le=4)], Annotated[float, Field(ge=0.0)]] = Field(
        default_factory=lambda: dict(CALLS_PER_DAY_WEIGHTS)
    )
    coordinator: str | None = None
    assessed: bool = True
    seed: int = 0
    id_prefix: str = Field(default="new", min_length=1)

    @model_validator(mode="after")
    def _some_mix(self) -> AddClients:
        if sum(self.package_mix.values()) <= 0:
            raise ValueError("package_mix needs a share above zero")
        return self


def _town(raw: Raw) -> tuple[tuple[float, float], float]:
    """The base clients' centroid and the radius (km) holding nine in ten of them."""
    places = [(c["location"]["lat"], c["location"]["lon"]) for c in raw["clients"]]
    if not places:
        places = [(w["home"]["lat"], w["home"]["lon"]) for w in raw["workers"]]
    lat = sum(p[0] for p in places) / len(places)
    lon = sum(p[1] for p in places) / len(places)
    km = sorted(_km((lat, lon), p) for p in places)
    return (lat, lon), max(1.0, km[int(0.9 * (len(km) - 1))])


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    north = (b[0] - a[0]) * 111.32
    east = (b[1] - a[1]) * 111.32 * math.cos(math.radians(a[0]))
    return math.hypot(north, east)


def _nearest_coordinator(raw: Raw, place: tuple[float, float]) -> str | None:
    patches: dict[str, list[tuple[float, float]]] = {}
    for c in raw["clients"]:
        if c.get("coordinator"):
            patches.setdefault(c["coordinator"], []).append(
                (c["location"]["lat"], c["location"]["lon"])
            )
    for w in raw["workers"]:
        if w["role"] == "coordinator" and w["id"] not in patches:
            patches[w["id"]] = [(w["home"]["lat"], w["home"]["lon"])]
    if not patches:
        return None

    def distance(k: str) -> float:
        spots = patches[k]
        centre = (sum(p[0] for p in spots) / len(spots), sum(p[1] for p in spots) / len(spots))
        return _km(centre, place)

    return min(sorted(patches), key=distance)


def add_clients(problem: Problem, change: AddClients, _rng: random.Random) -> Problem:
    """The problem with ``count`` new clients, their week of visits and a coordinator."""
    raw = problem.model_dump(mode="json")
    if raw["travel"]["model"] != "haversine":
        raise ChangeError("new clients need haversine travel (a matrix has no row for them)")
    workers = _ids(raw, "workers")
    if change.coordinator is not None:
        boss = workers.get(change.coordinator)
        if boss is None or boss["role"] != "coordinator":
            raise ChangeError(f"unknown coordinator {change.coordinator!r}", ("coordinator",))
    if isinstance(change.area, Area):
        centre, sigma = (change.area.lat, change.area.lon), change.area.radius_km / 2
    else:
        middle, radius = _town(raw)
        north, east = DIRECTIONS[change.area]
        centre = _offset(middle, 0.6 * radius * north, 0.6 * radius * east)
        sigma = radius / 5
    # The generator's own care rounds, needs, double-ups and care plans, on a throwaway agency
    # whose only clients are the new ones (its seed is this change's, so the base is untouched).
    agency = _Agency(change.count, change.seed, problem.period.days(), problem.zone)
    mix = sorted(change.package_mix.items())
    draw = random.Random(f"carerota-whatif:{change.seed}:clients")
    for _ in range(change.count):
        location = _offset(centre, draw.gauss(0.0, sigma), draw.gauss(0.0, sigma))
        weekdays = frozenset(range(7) if draw.random() < 0.78 else range(5))
        needs = {
            need
            for need, chance in (("medication", 0.45), ("dementia", 0.18), ("catheter", 0.05))
            if draw.random() < chance
        }
        per_day = draw.choices([n for n, _ in mix], weights=[w for _, w in mix])[0]
        rounds = draw.choices(
            [r for r, _ in PACKAGES[per_day]], weights=[w for _, w in PACKAGES[per_day]]
        )[0]
        calls = [agency.call(draw, name, weekdays) for name in rounds]
        gender = "female" if draw.random() < 0.08 else None
        agency.clients.append(_Client(location, 0, "", gender, needs, calls))
    agency.add_needs()
    agency.write_care_plans()
    taken = {c["id"] for c in raw["clients"]}
    visit_ids = {v["id"] for v in raw["visits"]}
    names = {f"c{i:04d}": f"{change.id_prefix}-c{i:03d}" for i in range(change.count)}
    clash = sorted(taken & set(names.values()))
    if clash:
        raise ChangeError(f"client id {clash[0]!r} is taken; choose another", ("id_prefix",))
    before = problem.period.start - timedelta(days=1)
    for i, client in enumerate(agency.clients):
        ident = names[f"c{i:04d}"]
        overseer = change.coordinator or _nearest_coordinator(raw, client.location)
        entry: Raw = {
            "id": ident,
            "name": f"New client {i + 1}",
            "location": {"lat": client.location[0], "lon": client.location[1]},
            "coordinator": overseer,
            "care_plan": client.care_plan,
        }
        if client.gender_preference is not None:
            entry["gender_preference"] = client.gender_preference
        raw["clients"].append(entry)
        if overseer is not None and change.assessed:
            raw["history"]["coordinator_visits"].append(
                {"coordinator": overseer, "client": ident, "date": before.isoformat()}
            )
    renamed: dict[str, str] = {}
    for visit in agency.visits_out():
        renamed[visit["id"]] = f"{change.id_prefix}-{visit['id']}"
        if renamed[visit["id"]] in visit_ids:
            raise ChangeError(f"visit id {renamed[visit['id']]!r} is taken", ("id_prefix",))
        visit["id"] = renamed[visit["id"]]
        visit["client"] = names[visit["client"]]
        if "after" in visit:
            visit["after"]["visit"] = renamed[visit["after"]["visit"]]
        raw["visits"].append(visit)
    return _revalidate(raw)


def _visits_of(raw: Raw, clients: list[str] | None, skill: str | None) -> list[Raw]:
    if clients:
        _known(clients, _ids(raw, "clients"), "client", "clients")
    wanted = set(clients or [])
    return [
        v
        for v in raw["visits"]
        if (not wanted or v["client"] in wanted) and (skill is None or skill in v["skills"])
    ]


class ScaleDurations(_Change):
    """Visits (all, those of ``clients`` or those needing ``skill``) last ``factor`` times as
    long."""

    kind: Literal["scale_durations"]
    factor: float = Field(gt=0.0)
    clients: list[str] = Field(default_factory=list)
    skill: str | None = None


def scale_durations(problem: Problem, change: ScaleDurations, _rng: random.Random) -> Problem:
    """Durations times ``factor``, rounded to whole minutes (at least one)."""
    raw = problem.model_dump(mode="json")
    for v in _visits_of(raw, change.clients, change.skill):
        v["duration_minutes"] = max(1, round(v["duration_minutes"] * change.factor))
    return _revalidate(raw)


class WidenWindows(_Change):
    """Start windows open ``minutes`` earlier and close ``minutes`` later (within their day)."""

    kind: Literal["widen_windows"]
    minutes: int = Field(ge=1, le=DAY_MINUTES)
    clients: list[str] = Field(default_factory=list)


class NarrowWindows(_Change):
    """Start windows shrink by ``minutes`` at each end, down to their middle minute."""

    kind: Literal["narrow_windows"]
    minutes: int = Field(ge=1, le=DAY_MINUTES)
    clients: list[str] = Field(default_factory=list)


def widen_windows(problem: Problem, change: WidenWindows, _rng: random.Random) -> Problem:
    """Wider windows, kept inside the visit's day."""
    raw = problem.model_dump(mode="json")
    step = timedelta(minutes=change.minutes)
    for v in _visits_of(raw, change.clients, None):
        early, late = _local(v["earliest_start"]), _local(v["latest_start"])
        midnight = datetime.combine(early.date(), time())
        v["earliest_start"] = _text(max(midnight, early - step))
        v["latest_start"] = _text(min(midnight + timedelta(hours=23, minutes=59), late + step))
    return _revalidate(raw)


def narrow_windows(problem: Problem, change: NarrowWindows, _rng: random.Random) -> Problem:
    """Narrower windows; a window narrower than twice ``minutes`` becomes its middle minute."""
    raw = problem.model_dump(mode="json")
    step = timedelta(minutes=change.minutes)
    for v in _visits_of(raw, change.clients, None):
        early, late = _local(v["earliest_start"]), _local(v["latest_start"])
        if late - early >= 2 * step:
            early, late = early + step, late - step
        else:
            middle = early + timedelta(minutes=(late - early) // timedelta(minutes=1) // 2)
            early = late = middle
        v["earliest_start"], v["latest_start"] = _text(early), _text(late)
    return _revalidate(raw)


# ---------------------------------------------------------------------------------------------
# Travel and weights


class SetTravelMode(_Change):
    """Workers (all, or ``workers``) travel by ``mode``."""

    kind: Literal["travel_mode"]
    mode: TravelMode
    workers: list[str] = Field(default_factory=list)


def set_travel_mode(problem: Problem, change: SetTravelMode, _rng: random.Random) -> Problem:
    """The named workers (default: all) travel by ``mode``."""
    raw = problem.model_dump(mode="json")
    workers = _ids(raw, "workers")
    _known(change.workers, workers, "worker", "workers")
    for ident in change.workers or list(workers):
        workers[ident]["travel_mode"] = change.mode
    return _revalidate(raw)


class SetTravelSpeeds(_Change):
    """Speeds per mode (km/h), all speeds times ``scale``, or another road factor."""

    kind: Literal["travel_speeds"]
    speeds_kmh: dict[TravelMode, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)
    scale: float | None = Field(default=None, gt=0.0)
    road_factor: float | None = Field(default=None, gt=0.0)


def set_travel_speeds(problem: Problem, change: SetTravelSpeeds, _rng: random.Random) -> Problem:
    """Haversine travel with the given speeds, scale and road factor."""
    raw = problem.model_dump(mode="json")
    travel = raw["travel"]
    if travel["model"] != "haversine":
        raise ChangeError("speeds apply to haversine travel; this problem uses a matrix")
    travel["speeds_kmh"].update(change.speeds_kmh)
    if change.scale is not None:
        travel["speeds_kmh"] = {m: s * change.scale for m, s in travel["speeds_kmh"].items()}
    if change.road_factor is not None:
        travel["road_factor"] = change.road_factor
    return _revalidate(raw)


class WeightValues(_Change):
    """Objective weights to set; unnamed ones keep the base's value."""

    unassigned_visit: float | None = Field(default=None, ge=0)
    travel_minute: float | None = Field(default=None, ge=0)
    home_travel_minute: float | None = Field(default=None, ge=0)
    distinct_worker: float | None = Field(default=None, ge=0)
    unfamiliar_worker: float | None = Field(default=None, ge=0)
    contract_shortfall_minute: float | None = Field(default=None, ge=0)
    late_minute: float | None = Field(default=None, ge=0)
    max_late_minute: float | None = Field(default=None, ge=0)
    coordinator_rule: float | None = Field(default=None, ge=0)
    # The agency's continuity policy (docs/continuity.md): "what if we priced a visit by a
    # carer the client does not know?" is a planner's question too.
    faces_cap: int | None = Field(default=None, ge=1)
    faces_over_cap: float | None = Field(default=None, ge=0)
    primary_carer_share: float | None = Field(default=None, ge=0, le=1)
    primary_share_shortfall: float | None = Field(default=None, ge=0)
    face_travel_minutes: float | None = Field(default=None, ge=0)
    unfamiliar_visit: float | None = Field(default=None, ge=0)


class SetWeights(_Change):
    """Other objective weights (names as in the contract, and the continuity policy's)."""

    kind: Literal["weights"]
    weights: WeightValues


def set_weights(problem: Problem, change: SetWeights, _rng: random.Random) -> Problem:
    """The problem with the named weights replaced."""
    raw = problem.model_dump(mode="json")
    raw["weights"].update(change.weights.model_dump(exclude_none=True))
    return _revalidate(raw)


# ---------------------------------------------------------------------------------------------
# Coordinators


class ReassignClients(_Change):
    """Clients move to coordinator ``to``: the listed ones, or ``count`` (default all) of
    ``from``'s clients, nearest to ``to``'s home first."""

    kind: Literal["reassign_clients"]
    to: str
    clients: list[str] = Field(default_factory=list)
    from_: str | None = Field(default=None, alias="from")
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_way(self) -> ReassignClients:
        if bool(self.clients) == (self.from_ is not None):
            raise ValueError("give either clients or from (with an optional count), not both")
        if self.count is not None and self.from_ is None:
            raise ValueError("count needs from")
        return self


def _coordinator(workers: dict[str, Raw], ident: str, field: str) -> Raw:
    boss = workers.get(ident)
    if boss is None or boss["role"] != "coordinator":
        raise ChangeError(f"unknown coordinator {ident!r}", (field,))
    return boss


def reassign_clients(problem: Problem, change: ReassignClients, _rng: random.Random) -> Problem:
    """The problem with the chosen clients overseen by ``to``."""
    raw = problem.model_dump(mode="json")
    workers, clients = _ids(raw, "workers"), _ids(raw, "clients")
    target = _coordinator(workers, change.to, "to")
    _known(change.clients, clients, "client", "clients")
    chosen = list(change.clients)
    if change.from_ is not None:
        _coordinator(workers, change.from_, "from")
        home = (target["home"]["lat"], target["home"]["lon"])
        theirs = [c for c in raw["clients"] if c.get("coordinator") == change.from_]
        theirs.sort(
            key=lambda c: (_km(home, (c["location"]["lat"], c["location"]["lon"])), c["id"])
        )
        if change.count is not None and change.count > len(theirs):
            raise ChangeError(
                f"{change.from_!r} oversees {plural(len(theirs), 'client')}, not {change.count}",
                ("count",),
            )
        chosen = [c["id"] for c in theirs[: change.count]]
    for ident in chosen:
        clients[ident]["coordinator"] = change.to
    return _revalidate(raw)


class FieldTime(_Change):
    """More (or less) field time for coordinators (all, or those listed).

    ``extra_days`` adds a shift from ``day_start`` to ``day_end`` on each of that many period
    weekdays on which the coordinator has no shift yet (earliest first), and raises their
    ``max_minutes_per_week`` by its length; ``add_minutes`` raises (or, negative, lowers) the
    budget alone; ``set_minutes`` sets it outright, after the other two.
    """

    kind: Literal["coordinator_field_time"]
    coordinators: list[str] | Literal["all"] = "all"
    extra_days: int = Field(default=0, ge=0)
    day_start: time = time(9, 0)
    day_end: time = time(16, 30)
    add_minutes: int = 0
    set_minutes: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> FieldTime:
        if self.day_end <= self.day_start:
            raise ValueError(f"day_end {self.day_end} is not after day_start {self.day_start}")
        return self


def coordinator_field_time(problem: Problem, change: FieldTime, _rng: random.Random) -> Problem:
    """Coordinators with extra field days and budgets as ``change`` says."""
    raw = problem.model_dump(mode="json")
    workers = _ids(raw, "workers")
    if change.coordinators == "all":
        chosen = [w for w in raw["workers"] if w["role"] == "coordinator"]
    else:
        chosen = [_coordinator(workers, k, "coordinators") for k in change.coordinators]
    day_minutes = (
        datetime.combine(date.min, change.day_end) - datetime.combine(date.min, change.day_start)
    ) // timedelta(minutes=1)
    for boss in chosen:
        busy = {_local(s["start"]).date() for s in boss["shifts"]}
        free = [d for d in problem.period.days() if d.weekday() < 5 and d not in busy]
        if len(free) < change.extra_days:
            raise ChangeError(
                f"{boss['id']} has {len(free)} free weekdays in the period, not "
                f"{change.extra_days}",
                ("extra_days",),
            )
        for day in free[: change.extra_days]:
            boss["shifts"].append(
                {
                    "start": _text(datetime.combine(day, change.day_start)),
                    "end": _text(datetime.combine(day, change.day_end)),
                }
            )
        boss["shifts"].sort(key=lambda s: s["start"])
        budget = boss.get("max_minutes_per_week")
        if budget is not None:
            budget = max(0, budget + change.extra_days * day_minutes + change.add_minutes)
        if change.set_minutes is not None:
            budget = change.set_minutes
        boss["max_minutes_per_week"] = budget
    return _revalidate(raw)


# ---------------------------------------------------------------------------------------------
# The registry

Change: TypeAlias = Annotated[
    RemoveWorkers
    | AddWorkers
    | AddClients
    | ScaleDurations
    | WidenWindows
    | NarrowWindows
    | SetTravelMode
    | SetTravelSpeeds
    | SetWeights
    | ReassignClients
    | FieldTime,
    Field(discriminator="kind"),
]

_APPLY: dict[str, Callable[[Problem, Any, random.Random], Problem]] = {
    "remove_workers": remove_workers,
    "add_workers": add_workers,
    "add_clients": add_clients,
    "scale_durations": scale_durations,
    "widen_windows": widen_windows,
    "narrow_windows": narrow_windows,
    "travel_mode": set_travel_mode,
    "travel_speeds": set_travel_speeds,
    "weights": set_weights,
    "reassign_clients": reassign_clients,
    "coordinator_field_time": coordinator_field_time,
}
KINDS: tuple[str, ...] = tuple(_APPLY)


def apply(problem: Problem, change: Change, rng: random.Random) -> Problem:
    """``problem`` with ``change`` made; ``rng`` draws whatever the change leaves to chance."""
    return _APPLY[change.kind](problem, change, rng)


def describe(change: Change) -> str:
    """One line naming the change and the fields it was given."""
    fields = change.model_dump(exclude={"kind"}, exclude_defaults=True, by_alias=True)
    shown = ", ".join(f"{k}={v}" for k, v in fields.items())
    return f"{change.kind}({shown})"
