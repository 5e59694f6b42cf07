"""The one bridge from the contract's pydantic models to the solver's plain indexed data.

:func:`build` parses every datetime once into integer minutes since local midnight of the
period's first day (real elapsed time, through UTC, so a week with a clock change adds up) and
lays workers, clients, visits and travel out as numpy arrays. Nothing downstream reads strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from solver.contract import Problem, Weights, format_local_datetime
from solver.travel import provider_for

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float64]

MODES = ("car", "walk", "bike", "public_transport")


@dataclass(frozen=True)
class Clock:
    """Converts between local wall-clock datetimes and minutes since the period's start."""

    zone: ZoneInfo
    origin: datetime  # aware, UTC: local midnight of the period's first day
    # Conversions remembered: a rota written or read converts the same few hundred times
    # thousands of times, and each zone conversion is slow.
    _seconds: dict[datetime, float] = field(default_factory=dict, compare=False, repr=False)
    _local: dict[int, datetime] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def for_problem(cls, problem: Problem) -> Clock:
        zone = problem.zone
        local = datetime.combine(problem.period.start, time(0), tzinfo=zone)
        return cls(zone, local.astimezone(UTC))

    def seconds(self, moment: datetime) -> float:
        known = self._seconds.get(moment)
        if known is None:
            aware = moment.replace(tzinfo=self.zone).astimezone(UTC)
            known = self._seconds[moment] = (aware - self.origin).total_seconds()
        return known

    def minute_up(self, moment: datetime) -> int:
        return math.ceil(self.seconds(moment) / 60.0)

    def minute_down(self, moment: datetime) -> int:
        return math.floor(self.seconds(moment) / 60.0)

    def local(self, minute: int) -> datetime:
        """The naive local wall-clock datetime ``minute`` minutes after the origin."""
        known = self._local.get(minute)
        if known is None:
            moment = self.origin + timedelta(minutes=minute)
            known = self._local[minute] = moment.astimezone(self.zone).replace(tzinfo=None)
        return known

    def local_seconds(self, second: int) -> datetime:
        """The naive local wall-clock datetime ``second`` seconds after the origin."""
        moment = self.origin + timedelta(seconds=second)
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def text(self, minute: int) -> str:
        return format_local_datetime(self.local(minute))


@dataclass(frozen=True)
class CoordinatorRequirement:
    """Rule 6 for one coordinator and one month: which clients, and how many must be seen."""

    coordinator: int
    month: str  # YYYY-MM
    clients: IntArray  # O: clients not yet seen by the coordinator this month
    required: int
    month_end: bool  # the month ends inside the period: every client in O is required
    days: IntArray  # period day indices that lie in the month


@dataclass(frozen=True)
class ProblemData:
    """An agency's week as integer minutes and numpy arrays, indexed by position."""

    problem: Problem
    clock: Clock
    weights: Weights
    days: list[date]
    day_start: IntArray  # [D + 1] minute of each local midnight, and the one after the last day
    # workers
    worker_ids: list[str]
    is_coordinator: BoolArray
    worker_mode: IntArray  # index into MODES
    worker_place: IntArray  # place index of the worker's home
    worker_gender: list[str | None]
    max_week: IntArray  # -1: no cap
    max_day: IntArray
    contracted: IntArray  # 0: no contract
    # shifts, flattened over workers
    shift_worker: IntArray
    shift_start: IntArray
    shift_end: IntArray
    worker_shifts: list[IntArray]
    # clients
    client_ids: list[str]
    client_place: IntArray
    client_coordinator: IntArray  # -1: none
    familiar: BoolArray  # [C, W]
    # visits
    visit_ids: list[str]
    visit_client: IntArray
    earliest: IntArray
    latest: IntArray  # latest on-time start
    late_allowed: IntArray
    duration: IntArray
    required: IntArray
    visit_day: IntArray
    pinned: list[list[int]]
    after_visit: IntArray  # -1: no link
    after_min: IntArray
    after_max: IntArray
    after_distinct: BoolArray  # the link wants two different crews (no worker on both)
    distinct_links: list[list[int]]  # visit -> visits linked to it by a distinct_workers link
    # who may do what
    skill_names: list[str]
    visit_skills: BoolArray  # [V, S]
    worker_skills: BoolArray  # [W, S]
    allowed: BoolArray  # [V, W]: not excluded, gender preference met
    skilled: BoolArray  # [V, W]: has every required skill
    visit_shift: list[dict[int, int]]  # visit -> {worker: shift index that can hold it}
    candidates: list[list[int]]  # visit -> workers who may be counted on it (rule 3), ascending
    # travel: exact minutes [mode, place, place] and the whole-minute ceiling the model uses
    place_ids: list[str]
    travel_exact: FloatArray
    travel: IntArray
    requirements: list[CoordinatorRequirement] = field(default_factory=list)
    # Time units per minute: 1 everywhere but in :func:`scaled` copies (seconds: 60).
    unit: int = 1

    @property
    def n_workers(self) -> int:
        return len(self.worker_ids)

    @property
    def n_visits(self) -> int:
        return len(self.visit_ids)

    @property
    def n_clients(self) -> int:
        return len(self.client_ids)

    @property
    def last_start(self) -> IntArray:
        return self.latest + self.late_allowed

    def can_count(self, v: int, w: int) -> bool:
        """Whether worker ``w`` may be counted on visit ``v`` (rule 3, shift included)."""
        return bool(self.allowed[v, w] and self.skilled[v, w]) and w in self.visit_shift[v]

    def can_shadow(self, v: int, w: int) -> bool:
        return bool(self.is_coordinator[w] and self.allowed[v, w]) and w in self.visit_shift[v]

    def leg(self, w: int, a: int, b: int) -> int:
        """Whole minutes for worker ``w`` between places ``a`` and ``b``."""
        return int(self.travel[self.worker_mode[w], a, b])

    def visit_place(self, v: int) -> int:
        return int(self.client_place[self.visit_client[v]])


def _months(days: list[date]) -> dict[str, list[int]]:
    months: dict[str, list[int]] = {}
    for i, day in enumerate(days):
        months.setdefault(day.strftime("%Y-%m"), []).append(i)
    return months


def _requirements(
    problem: Problem, days: list[date], worker_index: dict[str, int], client_index: dict[str, int]
) -> list[CoordinatorRequirement]:
    first = problem.period.start
    seen: set[tuple[str, str, str]] = {
        (done.coordinator, done.client, done.date.strftime("%Y-%m"))
        for done in problem.history.coordinator_visits
        if done.date < first
    }
    caseload: dict[str, list[str]] = {}
    for client in problem.clients:
        if client.coordinator is not None:
            caseload.setdefault(client.coordinator, []).append(client.id)
    out = []
    for month, day_idx in _months(days).items():
        month_first = days[day_idx[0]]
        next_month = (month_first.replace(day=28) + timedelta(days=4)).replace(day=1)
        month_end = next_month - timedelta(days=1) <= problem.period.end
        dr = (next_month - month_first).days
        for coordinator, clients in caseload.items():
            open_clients = [c for c in clients if (coordinator, c, month) not in seen]
            needed = (
                len(open_clients) if month_end else math.ceil(len(open_clients) * len(day_idx) / dr)
            )
            out.append(
                CoordinatorRequirement(
                    coordinator=worker_index[coordinator],
                    month=month,
                    clients=np.array([client_index[c] for c in open_clients], dtype=np.int64),
                    required=needed,
                    month_end=month_end,
                    days=np.array(day_idx, dtype=np.int64),
                )
            )
    return out


def _fit_shifts(
    earliest: IntArray,
    last: IntArray,
    duration: IntArray,
    shift_start: IntArray,
    shift_end: IntArray,
    shift_worker: IntArray,
) -> list[dict[int, int]]:
    """Per visit, ``{worker: shift}`` for every worker with a shift that can hold it.

    A shift can hold a visit when some start in the window fits the visit wholly inside it.
    """
    fits = (
        np.maximum(earliest[:, None], shift_start[None, :]) + duration[:, None]
        <= shift_end[None, :]
    ) & (shift_start[None, :] <= last[:, None])
    fits &= (earliest <= last)[:, None]  # a window clipped by the clock may have closed
    visits, shifts = np.nonzero(fits)
    workers = shift_worker[shifts]
    # The first fitting shift of each visit and worker wins (np.nonzero goes through a visit's
    # shifts in order): two shifts of one worker can only both fit a visit when they touch, and
    # then the earlier start is the better one.
    _, first = np.unique(
        visits * (int(shift_worker.max(initial=-1)) + 1) + workers, return_index=True
    )
    first.sort()
    visit_shift: list[dict[int, int]] = [{} for _ in range(len(earliest))]
    for v, w, h in zip(
        visits[first].tolist(), workers[first].tolist(), shifts[first].tolist(), strict=True
    ):
        visit_shift[v][w] = h
    return visit_shift


def _candidates(
    visit_shift: list[dict[int, int]], allowed: BoolArray, skilled: BoolArray
) -> list[list[int]]:
    able = (allowed & skilled).tolist()  # Python's lists: indexing numpy one cell at a time is slow
    return [[w for w in sorted(shifts) if able[v][w]] for v, shifts in enumerate(visit_shift)]


def not_before(data: ProblemData, minute: int, keep: set[int]) -> ProblemData:
    """``data`` with no visit outside ``keep`` allowed to start before ``minute``.

    A re-solve at a given moment cannot send anyone into the past: every visit that has not
    started yet gets its window clipped, and one whose window has closed can no longer be staffed.
    """
    earliest = data.earliest.copy()
    clip = np.array([v not in keep for v in range(data.n_visits)], dtype=bool)
    if data.n_visits:
        clip &= earliest < minute
    earliest[clip] = minute
    # Only the clipped visits can lose a shift: the rest keep theirs (a re-solve's hot path).
    rows = np.flatnonzero(clip)
    visit_shift = list(data.visit_shift)
    candidates = list(data.candidates)
    refitted = _fit_shifts(
        earliest[rows],
        data.last_start[rows],
        data.duration[rows],
        data.shift_start,
        data.shift_end,
        data.shift_worker,
    )
    refitted_candidates = _candidates(refitted, data.allowed[rows], data.skilled[rows])
    for v, shifts, cands in zip(rows.tolist(), refitted, refitted_candidates, strict=True):
        visit_shift[v] = shifts
        candidates[v] = cands
    return replace(data, earliest=earliest, visit_shift=visit_shift, candidates=candidates)


def scaled(data: ProblemData, unit: int) -> ProblemData:
    """``data`` with every time and length in ``unit`` steps a minute (60: seconds).

    Travel is rounded up to a step rather than to a minute, so a model over fractional travel
    loses at most a step a leg. ``travel_exact`` stays in minutes: it prices travel.
    """

    problem, clock = data.problem, data.clock

    def times(values: IntArray) -> IntArray:
        return np.where(values >= 0, values * unit, values)  # -1 (no cap) stays -1

    def up(moment: datetime) -> int:
        return math.ceil(clock.seconds(moment) * unit / 60 - 1e-9)

    def down(moment: datetime) -> int:
        return math.floor(clock.seconds(moment) * unit / 60 + 1e-9)

    # Windows and shifts from the problem's own times, which may hold seconds.
    day_start = data.day_start * unit
    earliest = np.array([up(v.earliest_start) for v in problem.visits], dtype=np.int64)
    latest = np.array([down(v.latest_start) for v in problem.visits], dtype=np.int64)
    allowed = np.array([v.late_allowed_minutes * unit for v in problem.visits], dtype=np.int64)
    late_allowed = np.maximum(
        0, np.minimum(allowed, day_start[data.visit_day + 1] - 1 - latest)
    ).astype(np.int64)
    shifts = [s for w in problem.workers for s in w.shifts]
    return replace(
        data,
        unit=unit,
        day_start=day_start,
        max_week=times(data.max_week),
        max_day=times(data.max_day),
        contracted=data.contracted * unit,
        shift_start=np.array([up(s.start) for s in shifts], dtype=np.int64),
        shift_end=np.array([down(s.end) for s in shifts], dtype=np.int64),
        earliest=earliest,
        latest=latest,
        late_allowed=late_allowed,
        duration=data.duration * unit,
        after_min=data.after_min * unit,
        after_max=data.after_max * unit,
        travel=np.ceil(data.travel_exact * unit - 1e-9).astype(np.int64),
    )


def build(problem: Problem) -> ProblemData:
    """Convert a validated problem into :class:`ProblemData` (the only bridge)."""
    clock = Clock.for_problem(problem)
    zone = problem.zone
    days = problem.period.days()
    day_start = np.array(
        [clock.minute_up(datetime.combine(d, time(0))) for d in days]
        + [
            math.ceil(
                (
                    datetime.combine(days[-1] + timedelta(days=1), time(0), tzinfo=zone).astimezone(
                        UTC
                    )
                    - clock.origin
                ).total_seconds()
                / 60
            )
        ],
        dtype=np.int64,
    )
    workers, clients, visits = problem.workers, problem.clients, problem.visits
    w_index = {w.id: i for i, w in enumerate(workers)}
    c_index = {c.id: i for i, c in enumerate(clients)}
    v_index = {v.id: i for i, v in enumerate(visits)}
    n_w, n_c, n_v = len(workers), len(clients), len(visits)

    place_ids = [w.id for w in workers] + [c.id for c in clients]
    coords = np.array(
        [(w.home.lat, w.home.lon) for w in workers]
        + [(c.location.lat, c.location.lon) for c in clients],
        dtype=np.float64,
    ).reshape(-1, 2)
    provider = provider_for(problem.travel)
    used_modes = {w.travel_mode for w in workers}
    travel_exact = np.zeros((len(MODES), len(place_ids), len(place_ids)))
    for m, mode in enumerate(MODES):
        if mode in used_modes:
            travel_exact[m] = provider.minutes(place_ids, coords, mode)
    travel = np.ceil(travel_exact - 1e-9).astype(np.int64)

    skill_names = sorted(
        {s for w in workers for s in w.skills} | {s for v in visits for s in v.skills}
    )
    s_index = {s: i for i, s in enumerate(skill_names)}
    worker_skills = np.zeros((n_w, len(skill_names)), dtype=bool)
    for i, w in enumerate(workers):
        worker_skills[i, [s_index[s] for s in w.skills]] = True
    visit_skills = np.zeros((n_v, len(skill_names)), dtype=bool)
    for i, v in enumerate(visits):
        visit_skills[i, [s_index[s] for s in v.skills]] = True
    # A worker is skilled for a visit when no required skill is missing.
    skilled: BoolArray = np.asarray(
        ~(visit_skills[:, None, :] & ~worker_skills[None, :, :]).any(axis=2), dtype=bool
    )

    shift_rows = [
        (i, clock.minute_up(s.start), clock.minute_down(s.end))
        for i, w in enumerate(workers)
        for s in w.shifts
    ]
    shift_worker = np.array([r[0] for r in shift_rows], dtype=np.int64)
    shift_start = np.array([r[1] for r in shift_rows], dtype=np.int64)
    shift_end = np.array([r[2] for r in shift_rows], dtype=np.int64)
    worker_shifts = [np.flatnonzero(shift_worker == i) for i in range(n_w)]

    familiar = np.zeros((n_c, n_w), dtype=bool)
    allowed = np.ones((n_v, n_w), dtype=bool)
    client_ok = np.ones((n_c, n_w), dtype=bool)
    genders = [w.gender for w in workers]
    for ci, c in enumerate(clients):
        for wid in c.preferred_workers:
            familiar[ci, w_index[wid]] = True
        for wid in c.excluded_workers:
            client_ok[ci, w_index[wid]] = False
        if c.gender_preference is not None:
            client_ok[ci] &= np.array([g == c.gender_preference for g in genders], dtype=bool)
    for seen in problem.history.visits:
        familiar[c_index[seen.client], w_index[seen.worker]] = True

    visit_client = np.array([c_index[v.client] for v in visits], dtype=np.int64)
    allowed = client_ok[visit_client] if n_v else allowed
    earliest = np.array([clock.minute_up(v.earliest_start) for v in visits], dtype=np.int64)
    latest = np.array([clock.minute_down(v.latest_start) for v in visits], dtype=np.int64)
    duration = np.array([v.duration_minutes for v in visits], dtype=np.int64)
    day_of = {d: i for i, d in enumerate(days)}
    visit_day = np.array([day_of[v.earliest_start.date()] for v in visits], dtype=np.int64)
    # A late start stays on the window's day: past midnight it would move the visit's day, its
    # caps and its month under the coordinator rule, which no coordinator would expect.
    late_allowed = np.minimum(
        np.array([v.late_allowed_minutes for v in visits], dtype=np.int64),
        np.maximum(0, day_start[visit_day + 1] - 1 - latest) if n_v else 0,
    ).astype(np.int64)

    visit_shift = _fit_shifts(
        earliest, latest + late_allowed, duration, shift_start, shift_end, shift_worker
    )
    # Pruned once here; the heuristic, the search and the bounds all read this list.
    candidates = _candidates(visit_shift, allowed, skilled)

    after_visit = np.full(n_v, -1, dtype=np.int64)
    after_min = np.zeros(n_v, dtype=np.int64)
    after_max = np.zeros(n_v, dtype=np.int64)
    after_distinct = np.zeros(n_v, dtype=bool)
    for i, v in enumerate(visits):
        if v.after is not None:
            after_visit[i] = v_index[v.after.visit]
            after_min[i], after_max[i] = v.after.min_minutes, v.after.max_minutes
            after_distinct[i] = v.after.distinct_workers
    # Both ends of each link, so a visit finds the crews it may not share whichever one follows.
    distinct_links: list[list[int]] = [[] for _ in range(n_v)]
    for i in np.flatnonzero(after_distinct).tolist():
        distinct_links[i].append(int(after_visit[i]))
        distinct_links[int(after_visit[i])].append(i)

    def caps(values: list[int | None]) -> IntArray:
        return np.array([-1 if x is None else x for x in values], dtype=np.int64)

    return ProblemData(
        problem=problem,
        clock=clock,
        weights=problem.weights,
        days=days,
        day_start=day_start,
        worker_ids=[w.id for w in workers],
        is_coordinator=np.array([w.role == "coordinator" for w in workers], dtype=bool),
        worker_mode=np.array([MODES.index(w.travel_mode) for w in workers], dtype=np.int64),
        worker_place=np.arange(n_w, dtype=np.int64),
        worker_gender=genders,
        max_week=caps([w.max_minutes_per_week for w in workers]),
        max_day=caps([w.max_minutes_per_day for w in workers]),
        contracted=np.array([w.contracted_minutes_per_week or 0 for w in workers], dtype=np.int64),
        shift_worker=shift_worker,
        shift_start=shift_start,
        shift_end=shift_end,
        worker_shifts=worker_shifts,
        client_ids=[c.id for c in clients],
        client_place=np.arange(n_w, n_w + n_c, dtype=np.int64),
        client_coordinator=np.array(
            [-1 if c.coordinator is None else w_index[c.coordinator] for c in clients],
            dtype=np.int64,
        ),
        familiar=familiar,
        visit_ids=[v.id for v in visits],
        visit_client=visit_client,
        earliest=earliest,
        latest=latest,
        late_allowed=late_allowed,
        duration=duration,
        required=np.array([v.workers_required for v in visits], dtype=np.int64),
        visit_day=visit_day,
        pinned=[[w_index[p] for p in v.pinned_workers] for v in visits],
        after_visit=after_visit,
        after_min=after_min,
        after_max=after_max,
        after_distinct=after_distinct,
        distinct_links=distinct_links,
        skill_names=skill_names,
        visit_skills=visit_skills,
        worker_skills=worker_skills,
        allowed=allowed,
        skilled=skilled,
        visit_shift=visit_shift,
        candidates=candidates,
        place_ids=place_ids,
        travel_exact=travel_exact,
        travel=travel,
        requirements=_requirements(problem, days, w_index, c_index),
    )
