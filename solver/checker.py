"""The independent checker: does a rota keep the contract's rules, and what does it cost?

This module deliberately shares no code with the model. It reads only the contract models and
recomputes everything (time, travel, working minutes, objective) from ``shared/contract.md`` and
``docs/semantics.md``, so a bug in the model's arithmetic cannot hide behind the same bug here.

Time is kept as real elapsed seconds since local midnight at the start of the period, computed
through UTC. Hard rules are checked against the problem's exact numbers (seconds, fractional
matrix travel); rule 4 allows a shortfall of less than one second.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from solver.contract import (
    MatrixTravel,
    Place,
    Problem,
    Rota,
    Visit,
    Worker,
)
from solver.words import plural

EARTH_RADIUS_KM = 6371.0088
# Rule 4 is checked "to within a second": a start less than a second before the exact arrival
# passes (a writer may round a fractional arrival to the second), a whole second early fails.
GAP_TOLERANCE_S = 1.0
# Floats written to JSON by the rota writer (travel, metrics, objective) are compared loosely.
REL_TOL = 1e-6
ABS_TOL = 0.01
# Caps are whole minutes but working minutes may carry fractional matrix travel; this only
# absorbs float summation noise.
CAP_EPSILON_MIN = 1e-6

# Every hard rule the checker knows, by the name its breaches carry. A new rule is named here
# first (docs/adding-a-rule.md); mypy then refuses a breach under any other name.
Rule = Literal[
    "structure",  # the rota is malformed: unknown ids, a visit missing or listed twice
    "staffing",  # rule 1: the full crew, each worker once
    "coordinator",  # rule 6's coordinator visits: who may cover or shadow, and how
    "window",  # rule 2: the start inside the visit's window (plus its allowed lateness)
    "after",  # rule 2: a visit's start relative to the visit it follows
    "distinct_workers",  # rule 2's optional addition: no worker on both ends of such a link
    "skills",  # rule 3: the crew has the visit's skills
    "excluded",  # rule 3: the client has not excluded the worker
    "gender",  # rule 3: the client's gender preference
    "pinned",  # rule 3: pinned workers are on the visit
    "shift",  # rule 3: the visit lies inside one of the worker's shifts
    "overlap",  # rule 4: a worker's visits and the travel between them do not overlap
    "max_minutes_per_week",  # rule 5: working minutes per week
    "max_minutes_per_day",  # rule 5: working minutes per day
]
RULES: Final[frozenset[Rule]] = frozenset(get_args(Rule))

WEIGHT_NAMES = (
    "unassigned_visit",
    "travel_minute",
    "home_travel_minute",
    "distinct_worker",
    "unfamiliar_worker",
    "contract_shortfall_minute",
    "late_minute",
    "max_late_minute",
    "coordinator_rule",
)
# The agency's continuity policy: a term only where its weight is above zero.
POLICY_NAMES = (
    "faces_over_cap",
    "primary_share_shortfall",
    "face_travel_minutes",
    "unfamiliar_visit",
)


@dataclass(frozen=True)
class Breach:
    """A broken hard rule (1-5) or a malformed rota ("structure", "coordinator")."""

    rule: Rule
    detail: str
    visit: str | None = None
    worker: str | None = None


@dataclass(frozen=True)
class Shortfall:
    """A client the coordinator rule (rule 6) says should have had a coordinator visit."""

    coordinator: str
    client: str
    month: str
    detail: str


@dataclass
class Report:
    """What :func:`check` found: breaches, rule-6 shortfalls, metrics and the objective."""

    breaches: list[Breach] = field(default_factory=list)
    shortfalls: list[Shortfall] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    terms: dict[str, float] = field(default_factory=dict)
    objective: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the rota keeps every hard rule and is well formed."""
        return not self.breaches


# ---------------------------------------------------------------------------------------------
# Time


class _Clock:
    """Local wall-clock datetimes to real elapsed seconds since the period's first midnight."""

    def __init__(self, zone: ZoneInfo, first_day: date) -> None:
        self.zone = zone
        self.origin = datetime.combine(first_day, time()).replace(tzinfo=zone).astimezone(UTC)
        self._seconds: dict[datetime, float] = {}

    def seconds(self, local: datetime) -> float:
        """Elapsed seconds of a wall-clock time (the earlier reading if it is ambiguous)."""
        cached = self._seconds.get(local)
        if cached is None:
            # Subtracting two aware datetimes that share a tzinfo object compares wall clocks
            # and ignores the offset change, so both sides go to UTC first.
            moment = local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
            cached = (moment - self.origin).total_seconds()
            self._seconds[local] = cached
        return cached

    def invalid(self, local: datetime) -> str | None:
        """Why a wall-clock time names no single instant here, or None if it names one."""
        early = local.replace(tzinfo=self.zone, fold=0)
        late = local.replace(tzinfo=self.zone, fold=1)
        if early.utcoffset() == late.utcoffset():
            return None
        back = early.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if back != local:
            return "does not exist (clocks go forward)"
        return "is ambiguous (clocks go back)"

    def instant(self, seconds: float) -> datetime:
        return (self.origin + timedelta(seconds=seconds)).astimezone(self.zone)

    def matches(self, local: datetime, seconds: float) -> bool:
        """Whether a written wall-clock time can denote this instant (either reading of it)."""
        for fold in (0, 1):
            moment = local.replace(tzinfo=self.zone, fold=fold).astimezone(UTC)
            if abs((moment - self.origin).total_seconds() - seconds) < 0.5:
                return True
        return False

    def text(self, seconds: float) -> str:
        """A readable local time; a repeated hour is told apart by its zone abbreviation."""
        moment = self.instant(seconds)
        naive = moment.replace(tzinfo=None)
        shown = naive.strftime("%H:%M:%S" if naive.second else "%H:%M")
        if self.invalid(naive) is not None:
            shown += f" {moment.tzname()}"
        return shown


def _fmt_local(local: datetime) -> str:
    return local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")


def _fmt_min(minutes: float) -> str:
    return f"{minutes:g}" if minutes == int(minutes) else f"{minutes:.4g}"


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


# ---------------------------------------------------------------------------------------------
# Travel


def haversine_km(a: Place, b: Place) -> float:
    """Great-circle distance in km on a sphere of radius 6371.0088 km (the contract's Earth)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class _Travel:
    """travel(worker, A, B) in minutes, exactly as the contract defines it."""

    def __init__(self, problem: Problem) -> None:
        self.travel = problem.travel
        self.places: dict[str, Place] = {w.id: w.home for w in problem.workers}
        self.places.update({c.id: c.location for c in problem.clients})
        self.index: dict[str, int] = {}
        if isinstance(self.travel, MatrixTravel):
            self.index = {p: i for i, p in enumerate(self.travel.places)}
        self._cache: dict[tuple[str, str, str], float] = {}

    def minutes(self, worker: Worker, a: str, b: str) -> float:
        # Same place (two visits at one client) is zero even if a matrix diagonal says otherwise.
        if a == b:
            return 0.0
        travel = self.travel
        if isinstance(travel, MatrixTravel):
            return float(travel.minutes[self.index[a]][self.index[b]])
        key = (worker.travel_mode, a, b)
        cached = self._cache.get(key)
        if cached is None:
            km = haversine_km(self.places[a], self.places[b])
            speed = travel.speeds_kmh[worker.travel_mode]
            cached = float(math.ceil(km * travel.road_factor / speed * 60))
            self._cache[key] = cached
        return cached


# ---------------------------------------------------------------------------------------------
# The check


@dataclass
class _Staffed:
    visit: Visit
    start_local: datetime
    start: float  # elapsed seconds
    end: float
    workers: list[str]  # known, distinct, in the order written


@dataclass
class _Attendance:
    """One worker at one visit, counted ("care") or shadowing."""

    staffed: _Staffed
    mode: str


@dataclass
class _Stop:
    visit: str
    start_local: datetime
    end: float
    start: float
    mode: str
    travel_before: float


@dataclass
class _Day:
    stops: list[_Stop] = field(default_factory=list)
    travel: float = 0.0
    home_travel: float = 0.0
    visit_minutes: int = 0


class _Checker:
    def __init__(self, problem: Problem, rota: Rota) -> None:
        self.problem = problem
        self.rota = rota
        self.clock = _Clock(problem.zone, problem.period.start)
        self.travel = _Travel(problem)
        self.visits = {v.id: v for v in problem.visits}
        self.workers = {w.id: w for w in problem.workers}
        self.clients = {c.id: c for c in problem.clients}
        self.breaches: list[Breach] = []
        self.staffed: dict[str, _Staffed] = {}
        self.shadows: dict[str, list[str]] = defaultdict(list)
        self.days: dict[tuple[str, date], _Day] = {}
        self.between_travel = 0.0
        self.home_travel = 0.0
        self.working: dict[str, float] = defaultdict(float)

    def breach(
        self, rule: Rule, detail: str, visit: str | None = None, worker: str | None = None
    ) -> None:
        self.breaches.append(Breach(rule, detail, visit, worker))

    def run(self) -> Report:
        self.read_assignments()
        self.read_coordinator_visits()
        for staffed in self.staffed.values():
            self.check_visit(staffed)
        self.check_timelines()
        metrics, terms = self.measure()
        shortfalls = self.coordinator_rule()
        terms["coordinator_rule"] = self.problem.weights.coordinator_rule * len(shortfalls)
        terms = {name: terms[name] for name in (*WEIGHT_NAMES, *POLICY_NAMES) if name in terms}
        objective = sum(terms.values())
        if self.rota.routes:
            self.check_routes()
        self.check_metrics(metrics)
        self.check_objective(objective)
        return Report(self.breaches, shortfalls, metrics, terms, objective)

    # -- rota structure and rule 1 -------------------------------------------------------------

    def read_assignments(self) -> None:
        listed: dict[str, str] = {}
        for a in self.rota.assignments:
            visit = self.visits.get(a.visit)
            if visit is None:
                self.breach("structure", f"assignment names unknown visit {a.visit!r}", a.visit)
                continue
            if a.visit in listed:
                self.breach(
                    "structure",
                    f"{a.visit} is listed twice ({listed[a.visit]} and assignments)",
                    a.visit,
                )
                continue
            listed[a.visit] = "assignments"
            known: list[str] = []
            for w in a.workers:
                if w not in self.workers:
                    self.breach("structure", f"{a.visit} names unknown worker {w!r}", a.visit, w)
                elif w in known:
                    self.breach("staffing", f"{a.visit} lists {w} twice", a.visit, w)
                else:
                    known.append(w)
            distinct = len(set(a.workers))
            if distinct != visit.workers_required:
                self.breach(
                    "staffing",
                    f"{a.visit} needs {visit.workers_required} distinct workers, has {distinct}",
                    a.visit,
                )
            problem = self.clock.invalid(a.start)
            if problem is not None:
                self.breach(
                    "structure",
                    f"{a.visit} start {_fmt_local(a.start)} {problem} in {self.problem.timezone}",
                    a.visit,
                )
            start = self.clock.seconds(a.start)
            end = start + visit.duration_minutes * 60
            self.staffed[a.visit] = _Staffed(visit, a.start, start, end, known)
        for u in self.rota.unassigned:
            if u.visit not in self.visits:
                self.breach("structure", f"unassigned names unknown visit {u.visit!r}", u.visit)
                continue
            if u.visit in listed:
                self.breach(
                    "structure",
                    f"{u.visit} is listed twice ({listed[u.visit]} and unassigned)",
                    u.visit,
                )
                continue
            listed[u.visit] = "unassigned"
            if not u.reason.strip():
                self.breach("structure", f"unassigned {u.visit} carries no reason", u.visit)
        for v in self.problem.visits:
            if v.id not in listed:
                self.breach("structure", f"{v.id} is neither assigned nor unassigned", v.id)

    def read_coordinator_visits(self) -> None:
        seen: set[tuple[str, str]] = set()
        covers: set[tuple[str, str]] = set()
        for cv in self.rota.coordinator_visits:
            k, vid = cv.coordinator, cv.visit
            if vid not in self.visits:
                self.breach("structure", f"coordinator visit names unknown visit {vid!r}", vid, k)
                continue
            who = self.workers.get(k)
            if who is None:
                self.breach("structure", f"coordinator visit names unknown worker {k!r}", vid, k)
                continue
            if (vid, k) in seen:
                self.breach("coordinator", f"{k} is listed twice on {vid}", vid, k)
                continue
            seen.add((vid, k))
            if who.role != "coordinator":
                self.breach("coordinator", f"{k} is a {who.role}, not a coordinator", vid, k)
            staffed = self.staffed.get(vid)
            counted = staffed is not None and k in staffed.workers
            if cv.mode == "cover":
                covers.add((vid, k))
                if not counted:
                    self.breach(
                        "coordinator", f"{k} covers {vid} but is not among its workers", vid, k
                    )
            elif staffed is None:
                self.breach("coordinator", f"{k} shadows {vid}, which is not staffed", vid, k)
            elif counted:
                self.breach("coordinator", f"{k} shadows {vid} but is also counted on it", vid, k)
            else:
                self.shadows[vid].append(k)
        # The contract lists every covering coordinator in coordinator_visits; a coordinator
        # counted on a visit is covering it by definition (rule 6).
        for vid, staffed in self.staffed.items():
            for k in staffed.workers:
                if self.workers[k].role == "coordinator" and (vid, k) not in covers:
                    self.breach(
                        "coordinator",
                        f"{k} is counted on {vid} but not listed as "
                        "covering it in coordinator_visits",
                        vid,
                        k,
                    )

    # -- rules 2 and 3, per visit -----------------------------------------------------------

    def check_visit(self, s: _Staffed) -> None:
        visit, clock = s.visit, self.clock
        vid = visit.id
        earliest = clock.seconds(visit.earliest_start)
        latest = clock.seconds(visit.latest_start)
        closes = latest + visit.late_allowed_minutes * 60
        if not earliest <= s.start <= closes:
            late = ""
            if visit.late_allowed_minutes:
                late = f" + {visit.late_allowed_minutes} min allowed late"
            self.breach(
                "window",
                f"{vid} starts {clock.text(s.start)}, window {clock.text(earliest)} to "
                f"{clock.text(latest)}{late} (closes {clock.text(closes)})",
                vid,
            )
        if visit.after is not None:
            before = self.staffed.get(visit.after.visit)
            if before is not None:
                gap = (s.start - before.start) / 60
                lo, hi = visit.after.min_minutes, visit.after.max_minutes
                if not lo <= gap <= hi:
                    self.breach(
                        "after",
                        f"{vid} starts {_fmt_min(gap)} min after {before.visit.id} starts "
                        f"({clock.text(before.start)} to {clock.text(s.start)}); "
                        f"must be {lo} to {hi}",
                        vid,
                    )
                if visit.after.distinct_workers:
                    for w in s.workers:
                        if w in before.workers:
                            self.breach(
                                "distinct_workers",
                                f"{w} is on both {before.visit.id} and {vid}, which must be "
                                "done by different workers",
                                vid,
                                w,
                            )
        client = self.clients[visit.client]
        excluded = set(client.excluded_workers)
        for w in s.workers:
            missing = [skill for skill in visit.skills if skill not in self.workers[w].skills]
            if missing:
                self.breach("skills", f"{w} lacks {', '.join(missing)} for {vid}", vid, w)
        # Exclusions and gender preference are about who enters the client's home, so unlike
        # skills they bind a shadowing coordinator as much as a counted worker.
        for w in [*s.workers, *self.shadows.get(vid, [])]:
            if w in excluded:
                self.breach("excluded", f"{client.id} excludes {w} ({vid})", vid, w)
            pref = client.gender_preference
            if pref is not None and self.workers[w].gender != pref:
                self.breach(
                    "gender",
                    f"{client.id} accepts only {pref} workers; {w} is "
                    f"{self.workers[w].gender or 'of unstated gender'} ({vid})",
                    vid,
                    w,
                )
        for w in visit.pinned_workers:
            if w not in s.workers:
                self.breach("pinned", f"{w} is pinned to {vid} but not on it", vid, w)

    # -- rules 3 (shift), 4 and 5, per worker -----------------------------------------------

    def check_timelines(self) -> None:
        per_worker: dict[str, list[_Attendance]] = defaultdict(list)
        for vid, s in self.staffed.items():
            for w in s.workers:
                per_worker[w].append(_Attendance(s, "care"))
            for k in self.shadows.get(vid, []):
                per_worker[k].append(_Attendance(s, "shadow"))
        for w, items in per_worker.items():
            items.sort(key=lambda a: (a.staffed.start, a.staffed.visit.id))
            self.check_worker(self.workers[w], items)

    def check_worker(self, worker: Worker, items: list[_Attendance]) -> None:
        clock = self.clock
        shifts = sorted((clock.seconds(s.start), clock.seconds(s.end)) for s in worker.shifts)
        groups: dict[object, list[_Attendance]] = {}
        group_of: dict[str, object] = {}
        reach: _Attendance | None = None  # ends latest so far: overlaps across shifts
        for item in items:
            s = item.staffed
            key: object = ("no shift", s.visit.id)
            for i, (lo, hi) in enumerate(shifts):
                if lo <= s.start and s.end <= hi:
                    key = i
                    break
            else:
                self.breach(
                    "shift",
                    f"{worker.id} has no shift containing {s.visit.id} "
                    f"({s.start_local.date()} {clock.text(s.start)} to {clock.text(s.end)}"
                    f"{', shadowing' if item.mode == 'shadow' else ''})",
                    s.visit.id,
                    worker.id,
                )
            groups.setdefault(key, []).append(item)
            group_of[s.visit.id] = key
            # Within a shift the travel check below is stricter; this catches overlapping
            # shifts or a visit outside any shift colliding with another.
            if reach is not None:
                r = reach.staffed
                if group_of[r.visit.id] != key and r.end - s.start >= GAP_TOLERANCE_S:
                    self.breach(
                        "overlap",
                        f"{worker.id} is on {r.visit.id} until {clock.text(r.end)} but "
                        f"{s.visit.id} starts {clock.text(s.start)}",
                        s.visit.id,
                        worker.id,
                    )
            if reach is None or s.end > reach.staffed.end:
                reach = item
        day_minutes: dict[date, float] = defaultdict(float)
        for group in groups.values():
            self.walk_shift(worker, group, day_minutes)
        self.check_caps(worker, day_minutes)

    def walk_shift(
        self, worker: Worker, group: list[_Attendance], day_minutes: dict[date, float]
    ) -> None:
        clock, w = self.clock, worker.id
        prev: _Staffed | None = None
        for item in group:
            s = item.staffed
            day = s.start_local.date()
            route = self.days.setdefault((w, day), _Day())
            if prev is None:
                leg = self.travel.minutes(worker, w, s.visit.client)
                route.home_travel += leg
                self.home_travel += leg
            else:
                leg = self.travel.minutes(worker, prev.visit.client, s.visit.client)
                arrive = prev.end + leg * 60
                if arrive - s.start >= GAP_TOLERANCE_S:
                    self.breach(
                        "overlap",
                        f"{w}: {prev.visit.id} at {prev.visit.client} ends {clock.text(prev.end)}"
                        f" + {_fmt_min(leg)} min travel = {clock.text(arrive)}, but "
                        f"{s.visit.id} starts {clock.text(s.start)}",
                        s.visit.id,
                        w,
                    )
                route.travel += leg
                self.between_travel += leg
                self.working[w] += leg
                day_minutes[day] += leg
            route.stops.append(_Stop(s.visit.id, s.start_local, s.end, s.start, item.mode, leg))
            route.visit_minutes += s.visit.duration_minutes
            self.working[w] += s.visit.duration_minutes
            day_minutes[day] += s.visit.duration_minutes
            prev = s
        if prev is not None:
            # The way home belongs to the day of the shift's last visit.
            leg = self.travel.minutes(worker, prev.visit.client, w)
            self.days[(w, prev.start_local.date())].home_travel += leg
            self.home_travel += leg

    def check_caps(self, worker: Worker, day_minutes: dict[date, float]) -> None:
        w = worker.id
        week = worker.max_minutes_per_week
        if week is not None and self.working[w] > week + CAP_EPSILON_MIN:
            self.breach(
                "max_minutes_per_week",
                f"{w} works {_fmt_min(self.working[w])} min in the period, cap {week}",
                worker=w,
            )
        cap = worker.max_minutes_per_day
        if cap is not None:
            for day in sorted(day_minutes):
                if day_minutes[day] > cap + CAP_EPSILON_MIN:
                    self.breach(
                        "max_minutes_per_day",
                        f"{w} works {_fmt_min(day_minutes[day])} min on {day}, cap {cap}",
                        worker=w,
                    )

    # -- objective and metrics ---------------------------------------------------------------

    def attendees(self) -> dict[str, dict[str, None]]:
        """Per client, the workers who attend it (counted or shadowing), in first-seen order."""
        out: dict[str, dict[str, None]] = defaultdict(dict)
        for vid, s in self.staffed.items():
            for w in [*s.workers, *self.shadows.get(vid, [])]:
                out[s.visit.client][w] = None
        return out

    def measure(self) -> tuple[dict[str, float], dict[str, float]]:
        p, weights = self.problem, self.problem.weights
        familiar = {(h.client, h.worker) for h in p.history.visits}
        for c in p.clients:
            familiar.update((c.id, w) for w in c.preferred_workers)
        attend = self.attendees()
        distinct = sum(max(0, len(ws) - 1) for ws in attend.values())
        unfamiliar = sum(1 for c, ws in attend.items() for w in ws if (c, w) not in familiar)
        shortfall = sum(
            max(0.0, w.contracted_minutes_per_week - self.working.get(w.id, 0.0))
            for w in p.workers
            if w.contracted_minutes_per_week is not None
        )
        lateness: list[float] = []
        pairs = familiar_pairs = 0
        for s in self.staffed.values():
            # docs/semantics.md rounds a latest start with seconds down to its minute.
            latest = self.clock.seconds(s.visit.latest_start.replace(second=0))
            lateness.append(max(0.0, (s.start - latest) / 60))
            for w in s.workers:
                pairs += 1
                familiar_pairs += (s.visit.client, w) in familiar
        unassigned = len(p.visits) - len(self.staffed)
        terms = {
            "unassigned_visit": weights.unassigned_visit * unassigned,
            "travel_minute": weights.travel_minute * self.between_travel,
            "home_travel_minute": weights.home_travel_minute * self.home_travel,
            "distinct_worker": weights.distinct_worker * distinct,
            "unfamiliar_worker": weights.unfamiliar_worker * unfamiliar,
            "contract_shortfall_minute": weights.contract_shortfall_minute * shortfall,
            "late_minute": weights.late_minute * sum(lateness),
            "max_late_minute": weights.max_late_minute * max(lateness, default=0.0),
        }
        terms.update(self.policy_terms(distinct, pairs - familiar_pairs))
        metrics: dict[str, float] = {
            "visits_total": len(p.visits),
            "visits_assigned": len(self.staffed),
            "travel_minutes": self.between_travel,
            "home_travel_minutes": self.home_travel,
            "mean_distinct_workers_per_client": (
                sum(len(ws) for ws in attend.values()) / len(attend) if attend else 0.0
            ),
            "familiar_visit_share": familiar_pairs / pairs if pairs else 1.0,
        }
        return metrics, terms

    def policy_terms(self, distinct: int, unknown_slots: int) -> dict[str, float]:
        """The continuity policy's terms (docs/continuity.md), each where its weight is above 0:
        faces above the cap per client and 7 days of the period, the primary carer's shortfall
        from its share of a client's visit slots, travel minutes a face is worth, and visit
        slots taken by a carer the client does not know."""
        weights, first = self.problem.weights, self.problem.period.start
        terms: dict[str, float] = {}
        if weights.face_travel_minutes > 0:
            terms["face_travel_minutes"] = (
                weights.face_travel_minutes * weights.travel_minute * distinct
            )
        cap = weights.faces_cap
        if weights.faces_over_cap > 0 and cap is not None:
            weekly: dict[tuple[str, int], set[str]] = defaultdict(set)
            for vid, s in self.staffed.items():
                week = (s.visit.earliest_start.date() - first).days // 7
                weekly[(s.visit.client, week)].update([*s.workers, *self.shadows.get(vid, [])])
            over = sum(max(0, len(ws) - cap) for ws in weekly.values())
            terms["faces_over_cap"] = weights.faces_over_cap * over
        if weights.primary_share_shortfall > 0:
            slots: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            for s in self.staffed.values():
                for w in s.workers:
                    slots[s.visit.client][w] += 1
            short = 0.0
            for counts in slots.values():
                total, top = sum(counts.values()), max(counts.values())
                short += max(0.0, weights.primary_carer_share * total - top)
            terms["primary_share_shortfall"] = weights.primary_share_shortfall * short
        if weights.unfamiliar_visit > 0:
            terms["unfamiliar_visit"] = weights.unfamiliar_visit * unknown_slots
        return terms

    # -- rule 6 ------------------------------------------------------------------------------

    def coordinator_rule(self) -> list[Shortfall]:
        p = self.problem
        first, last = p.period.start, p.period.end
        by_coordinator: dict[str, list[str]] = defaultdict(list)
        for client in p.clients:
            if client.coordinator is not None:
                by_coordinator[client.coordinator].append(client.id)
        done = {
            (h.coordinator, h.client, (h.date.year, h.date.month))
            for h in p.history.coordinator_visits
            if h.date < first
        }
        seen: set[tuple[str, str, tuple[int, int]]] = set()
        for vid, s in self.staffed.items():
            day = s.start_local.date()
            if first <= day <= last:
                for w in [*s.workers, *self.shadows.get(vid, [])]:
                    seen.add((w, s.visit.client, (day.year, day.month)))
        months: list[tuple[int, int]] = []
        day = first
        while day <= last:
            if (day.year, day.month) not in months:
                months.append((day.year, day.month))
            day += timedelta(days=1)
        out: list[Shortfall] = []
        for k, clients in by_coordinator.items():
            for ym in months:
                month = f"{ym[0]:04d}-{ym[1]:02d}"
                owed = [c for c in clients if (k, c, ym) not in done]
                unseen = [c for c in owed if (k, c, ym) not in seen]
                start_in_m = max(first, date(ym[0], ym[1], 1))
                month_end = date(ym[0] + ym[1] // 12, ym[1] % 12 + 1, 1) - timedelta(days=1)
                if month_end <= last:
                    for c in unseen:
                        detail = (
                            f"{month} ends {month_end}, inside the period; {k} has not seen {c}"
                        )
                        out.append(Shortfall(k, c, month, detail))
                    continue
                dp = (last - start_in_m).days + 1
                dr = (month_end - start_in_m).days + 1
                need = -(-len(owed) * dp // dr)
                seen_count = len(owed) - len(unseen)
                missing = max(0, need - seen_count)
                for c in unseen[:missing]:
                    detail = (
                        f"{k} must see ceil({len(owed)} x {dp} / {dr}) = {need} of the clients "
                        f"due in {month} this period, sees {seen_count}; {c} is not seen"
                    )
                    out.append(Shortfall(k, c, month, detail))
        return out

    # -- derived figures the rota reports ------------------------------------------------------

    def check_routes(self) -> None:
        clock = self.clock
        given: set[tuple[str, date]] = set()
        for route in self.rota.routes:
            key = (route.worker, route.date)
            where = f"route {route.worker} {route.date}"
            if key in given:
                self.breach("structure", f"{where} is listed twice", worker=route.worker)
                continue
            given.add(key)
            want = self.days.get(key)
            if want is None:
                self.breach(
                    "structure", f"{where}: the worker has no visits that day", worker=route.worker
                )
                continue
            got_ids = [stop.visit for stop in route.stops]
            want_ids = [t.visit for t in sorted(want.stops, key=lambda t: (t.start, t.visit))]
            if got_ids != want_ids:
                self.breach(
                    "structure",
                    f"{where} has stops {got_ids}, assignments give {want_ids} in start order",
                    worker=route.worker,
                )
            else:
                by_id = {stop.visit: stop for stop in want.stops}
                for stop in route.stops:
                    ref = by_id[stop.visit]
                    wrong: list[str] = []
                    if stop.start != ref.start_local:
                        wrong.append(
                            f"start {_fmt_local(stop.start)} (assigned "
                            f"{_fmt_local(ref.start_local)})"
                        )
                    if not clock.matches(stop.end, ref.end):
                        wrong.append(
                            f"end {_fmt_local(stop.end)} (should be {clock.text(ref.end)})"
                        )
                    if stop.mode != ref.mode:
                        wrong.append(f"mode {stop.mode} (should be {ref.mode})")
                    if not _close(stop.travel_minutes_before, ref.travel_before):
                        wrong.append(
                            f"travel_minutes_before {stop.travel_minutes_before:g} "
                            f"(should be {_fmt_min(ref.travel_before)})"
                        )
                    if wrong:
                        self.breach(
                            "structure",
                            f"{where} stop {stop.visit}: " + "; ".join(wrong),
                            stop.visit,
                            route.worker,
                        )
            for name, got, expected in (
                ("travel_minutes", route.travel_minutes, want.travel),
                ("home_travel_minutes", route.home_travel_minutes, want.home_travel),
                ("visit_minutes", route.visit_minutes, want.visit_minutes),
            ):
                if not _close(got, expected):
                    self.breach(
                        "structure",
                        f"{where}: {name} {got:g}, assignments give {_fmt_min(expected)}",
                        worker=route.worker,
                    )
        for w, day in sorted(self.days.keys() - given):
            self.breach(
                "structure", f"no route for {w} on {day}, who has visits that day", worker=w
            )

    def check_metrics(self, metrics: dict[str, float]) -> None:
        given = self.rota.metrics
        if given is None:
            return
        for name in (
            "visits_total",
            "visits_assigned",
            "travel_minutes",
            "mean_distinct_workers_per_client",
            "familiar_visit_share",
        ):
            got = float(getattr(given, name))
            if not _close(got, metrics[name]):
                self.breach(
                    "structure",
                    f"metrics.{name} is {got:.10g}, assignments give {metrics[name]:.10g}",
                )

    def check_objective(self, objective: float) -> None:
        given = self.rota.objective
        if given is not None and not _close(given, objective):
            self.breach(
                "structure",
                f"objective is {given:.10g}, the rota as returned costs {objective:.10g}",
            )


def check(problem: Problem, rota: Rota) -> Report:
    """Check a rota against its problem: every hard rule, rule 6, metrics and objective.

    Breaches of rules 1-5 and malformed rotas land in ``breaches``; clients the coordinator rule
    still wants seen land in ``shortfalls`` (they cost ``coordinator_rule`` each, they do not
    make the rota wrong). ``routes``, ``metrics`` and ``objective`` are checked only when the
    rota carries them.
    """
    return _Checker(problem, rota).run()


def format_report(report: Report) -> str:
    """Render a report as plain text for a coordinator or a test failure message."""
    lines = [
        f"rota is {'valid' if report.ok else 'INVALID'}: "
        f"{plural(len(report.breaches), 'breach', 'breaches')}, "
        f"{plural(len(report.shortfalls), 'coordinator-rule shortfall')}"
    ]
    if report.breaches:
        lines.append("breaches:")
        lines.extend(f"  [{b.rule}] {b.detail}" for b in report.breaches)
    if report.shortfalls:
        lines.append("coordinator-rule shortfalls:")
        lines.extend(
            f"  {s.coordinator} / {s.client} / {s.month}: {s.detail}" for s in report.shortfalls
        )
    lines.append("metrics:")
    lines.extend(f"  {name}: {value:.10g}" for name, value in report.metrics.items())
    lines.append("objective terms:")
    lines.extend(f"  {name}: {value:.10g}" for name, value in report.terms.items())
    lines.append(f"objective: {report.objective:.10g}")
    return "\n".join(lines)
