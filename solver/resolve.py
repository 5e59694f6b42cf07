"""Re-solving a published rota after a carer rings in sick, changing as little as possible.

The situation is written into the problem itself (:func:`apply_absences` cuts the absence out of
the worker's shifts), so the new rota is checked against the very problem it is stored with.
:func:`resolve` then repairs the published rota for that problem:

1. Visits that started before ``now`` are frozen, and nothing may start before ``now``.
2. Every other assignment that the new problem still allows is kept; the rest are *orphaned*.
3. The route engine (:mod:`solver.engine`) loads the kept rota with the frozen visits and every
   visit off the affected days locked, and every kept visit starting no earlier than it did (a
   later start is a change), inserts the orphans at their cheapest places, anneals the
   affected days, then makes room for the orphans still unstaffed in a fixed order (one or two
   stops in the way taken off and re-placed; both members' routes for a double-up). Its
   objective is the re-solve's whole objective (:class:`Costs`): the contract's, plus a penalty
   per changed visit and a fairness cost per worker asked to cover, higher for those already
   asked often this month; a move that would take the changed visits above the change cap is
   refused.
4. For orphans still unstaffed, the engine goes again from that rota with the kept starts near
   them free to come forward (a published start is otherwise only ever pushed later, so a
   carer's earlier call could never make room), and :func:`toward_published` then puts back
   every start the routes do not need moved; the answer is kept if it costs less within the
   cap (``ResolveOptions.release``).
5. With ``ResolveOptions.intensify``, CP-SAT (:class:`ResolveModel`, same objective, same cap)
   then takes the orphans the engine left unstaffed, first with the carers nearest them, then
   with every carer who could take them: it may also move several kept starts at once,
   earlier or later, which the engine does only as in 4.

``ResolveOptions.method = "cpsat"`` keeps the previous design for comparison: a construction
pass gives each orphan the cheapest familiar crew it can, and CP-SAT works on every orphan.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
from ortools.sat.python import cp_model

from solver.changes import ChangeList, changes
from solver.contract import Problem, Rota, Shift, format_local_datetime
from solver.data import ProblemData, build, not_before
from solver.engine.search import RESOLVE_MOVE_WEIGHTS, Engine
from solver.engine.state import Anchor
from solver.heuristic import Builder
from solver.model import Neighbourhood, RotaModel
from solver.retime import PER_MINUTE, timing_model
from solver.rota import Solution, account, admissible, solution_of
from solver.solve import finish


class ResolveError(ValueError):
    """The absence or the rota does not fit the problem (unknown worker, end before start...)."""


@dataclass(frozen=True)
class Absence:
    """A worker unavailable from ``start`` to ``end`` (local wall-clock times)."""

    worker: str
    start: datetime
    end: datetime
    reason: str = ""


@dataclass(frozen=True)
class ResolveOptions:
    time_limit: float = 5.0  # seconds for the whole re-solve, construction included
    seed: int = 0
    # Cores: CP-SAT's search workers and the engine's walkers (the service gives it two).
    workers: int = 1
    # Objective units (like the contract's weights) per visit whose workers or start change, other
    # than the orphans themselves: above any travel or continuity saving, below a staffed visit.
    change_penalty: float = 500.0
    # At most this many other visits change per orphaned visit, whatever they would buy: the
    # office can make only so many phone calls before the first visit is due.
    max_change_ratio: float = 1.5
    # Per worker asked to cover: (1 + times already asked this month) times this.
    cover_penalty: float = 40.0
    cover_counts: Mapping[str, int] = field(default_factory=dict)
    log: bool = False
    # "engine": the route engine repairs, CP-SAT takes what it left unstaffed; "cpsat": the
    # construction and CP-SAT neighbourhoods alone (the previous design, kept for comparison).
    method: Literal["engine", "cpsat"] = "engine"
    # The engine's effort in move evaluations (:data:`RESOLVE_MOVES` if None): with the seed, it
    # fixes the rota; the time limit only cuts a run on a machine much busier than this one.
    moves: int | None = None
    # After the engine, CP-SAT neighbourhoods for the orphans it left unstaffed. Off by default:
    # on the medium agency's ten sick calls they staffed no more orphans and took about 0.7 s
    # more each (benchmarks/results/sickcall.md).
    intensify: bool = False
    # Before and after the annealing, make room for the orphans still unstaffed in a fixed
    # order (:meth:`Engine.repair`); off only to measure what it adds (benchmarks/sickcall.py).
    repair: bool = True
    # For the orphans the engine left unstaffed, the engine once more with kept starts free to
    # come forward (a change each), then as many put back as the routes allow
    # (:func:`toward_published`); off only to measure what it adds.
    release: bool = True


@dataclass
class Resolved:
    problem: Problem  # the problem the new rota answers (the absences written into it)
    rota: Rota
    changes: ChangeList
    orphaned: list[str]  # visits whose assignment the new problem no longer allows
    covers: dict[str, int]  # worker -> orphaned visits they were asked to take
    frozen: int  # visits that had started before ``now``
    stages: list[str]  # what the search did, for logs
    elapsed: float


def merge(absences: list[Absence]) -> list[Absence]:
    """One absence per worker and unbroken stretch: overlapping or touching ones join."""
    out: list[Absence] = []
    for a in sorted(absences, key=lambda a: (a.worker, a.start, a.end)):
        last = out[-1] if out else None
        if last is not None and last.worker == a.worker and a.start <= last.end:
            reason = last.reason if a.reason in ("", last.reason) else f"{last.reason}; {a.reason}"
            out[-1] = Absence(a.worker, last.start, max(last.end, a.end), reason.strip("; "))
        else:
            out.append(a)
    return out


class AbsenceRefused(ResolveError):
    """An absence that cannot change anything, and the field to blame (``worker``, ``end``...).

    The command line, the service and the board refuse the same absences with these words.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_order(absence: Absence) -> None:
    """Refuse an absence that ends before (or when) it starts."""
    if absence.end <= absence.start:
        start, end = format_local_datetime(absence.start), format_local_datetime(absence.end)
        raise AbsenceRefused("end", f"the absence ends ({end}) before it starts ({start})")


def unknown_worker(worker: str) -> AbsenceRefused:
    return AbsenceRefused("worker", f"unknown worker '{worker}'")


def admit_absence(problem: Problem, absence: Absence, now: datetime | None) -> tuple[Absence, str]:
    """The absence as it will apply, and a note for the office ("" when there is none to make).

    Refused (:class:`AbsenceRefused`): an unknown worker, an end not after the start, an absence
    wholly before ``now`` (that part of the rota is history) or wholly outside the period. One
    that started before ``now`` applies from ``now``, and the note says so.
    """
    start, end = format_local_datetime(absence.start), format_local_datetime(absence.end)
    check_order(absence)
    if absence.worker not in {w.id for w in problem.workers}:
        raise unknown_worker(absence.worker)
    first = datetime.combine(problem.period.start, datetime.min.time())
    after = datetime.combine(problem.period.end + timedelta(days=1), datetime.min.time())
    if absence.end <= first or absence.start >= after:
        raise AbsenceRefused(
            "start",
            f"the absence ({start} to {end}) is outside the period of the rota "
            f"({problem.period.start} to {problem.period.end})",
        )
    if now is not None and absence.end <= now:
        raise AbsenceRefused(
            "end",
            f"the absence ended ({end}) before now ({format_local_datetime(now)}): "
            "that part of the rota is past, nothing can change",
        )
    if now is not None and absence.start < now:
        note = (
            f"the absence started ({start}) before now ({format_local_datetime(now)}): "
            "it applies from now"
        )
        return Absence(absence.worker, now, absence.end, absence.reason), note
    return absence, ""


def apply_absences(
    problem: Problem, rota: Rota, absences: list[Absence], now: datetime | None
) -> Problem:
    """``problem`` with each absence cut out of its worker's shifts.

    A visit the worker had already started before ``now`` stays theirs (it is history), so the
    cut begins once it ends. Pins of the worker on visits they can no longer do are dropped.
    """
    for a in absences:
        admit_absence(problem, a, None)
    duration = {v.id: v.duration_minutes for v in problem.visits}
    worked: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    for asg in rota.assignments:
        if now is not None and asg.start < now:
            end = asg.start + timedelta(minutes=duration.get(asg.visit, 0))
            for w in asg.workers:
                worked[w].append((asg.start, end))
    shifts: dict[str, list[Shift]] = {w.id: list(w.shifts) for w in problem.workers}
    for a in merge(absences):
        cut = max([a.start, *(end for start, end in worked[a.worker] if end > a.start)])
        if cut >= a.end:
            continue
        kept: list[Shift] = []
        for s in shifts[a.worker]:
            if s.end <= cut or s.start >= a.end:
                kept.append(s)
                continue
            if s.start < cut:
                kept.append(Shift(start=s.start, end=cut))
            if s.end > a.end:
                kept.append(Shift(start=a.end, end=s.end))
        shifts[a.worker] = kept
    out = problem.model_copy(
        update={
            "workers": [
                w.model_copy(update={"shifts": shifts[w.id]}) if w.shifts != shifts[w.id] else w
                for w in problem.workers
            ]
        }
    )
    return _drop_impossible_pins(out, {a.worker for a in absences})


def _drop_impossible_pins(problem: Problem, absent: set[str]) -> Problem:
    data = build(problem)
    index = {wid: i for i, wid in enumerate(data.worker_ids)}
    visits = []
    changed = False
    for v, visit in enumerate(problem.visits):
        keep = [
            p for p in visit.pinned_workers if p not in absent or index[p] in data.visit_shift[v]
        ]
        if keep != visit.pinned_workers:
            visit = visit.model_copy(update={"pinned_workers": keep})
            changed = True
        visits.append(visit)
    return problem.model_copy(update={"visits": visits}) if changed else problem


@dataclass(frozen=True)
class Costs:
    """The re-solve's terms beyond the contract: changes against the anchor and cover requests."""

    anchor: Solution
    orphans: frozenset[int]
    change_penalty: float
    cover_price: dict[int, float]  # worker -> cost of asking them to cover
    max_changes: int

    def changes(self, sol: Solution, skip: AbstractSet[int] = frozenset()) -> int:
        """Visits other than the orphans (and ``skip``) whose crew, shadows or start changed."""
        return sum(
            1
            for v in self.anchor.start
            if v not in self.orphans and v not in skip and self.changed(sol, v)
        )

    def changed(self, sol: Solution, v: int) -> bool:
        return v not in sol.start or sol.start[v] != self.anchor.start[v] or self.recrewed(sol, v)

    def recrewed(self, sol: Solution, v: int) -> bool:
        """Whether staffed ``v``'s crew or shadows differ from the published ones."""
        a = self.anchor
        return sorted(sol.workers[v]) != sorted(a.workers[v]) or sorted(
            sol.shadows.get(v, [])
        ) != sorted(a.shadows.get(v, []))

    def covers(self, sol: Solution) -> dict[int, int]:
        """Worker -> orphaned visits they take that were not theirs before."""
        out: dict[int, int] = defaultdict(int)
        for v in self.orphans:
            for w in sol.workers.get(v, []):
                if w not in self.anchor.workers.get(v, []):
                    out[w] += 1
        return dict(out)

    def total(self, data: ProblemData, sol: Solution) -> float:
        changed = self.changes(sol)
        asked = sum(self.cover_price[w] for w in self.covers(sol))
        return account(data, sol).objective + self.change_penalty * changed + asked


class ResolveModel(RotaModel):
    """The neighbourhood model with the re-solve's change and cover costs added."""

    def __init__(self, data: ProblemData, sol: Solution, hood: Neighbourhood, costs: Costs) -> None:
        self.costs = costs
        super().__init__(data, sol, hood)

    def extra_objective(self) -> cp_model.LinearExprT:
        self.changed: dict[int, cp_model.IntVar] = {}
        self.asked: dict[int, cp_model.IntVar] = {}
        return cp_model.LinearExpr.sum([self.add_change_costs(), self.add_cover_costs()])

    def hint(self, sol: Solution) -> None:
        """The base model's hint, and this model's change and cover flags for ``sol``."""
        super().hint(sol)
        for v, lit in self.changed.items():
            self.model.add_hint(lit, self.costs.changed(sol, v))
        asked = self.costs.covers(sol)
        for w, lit in self.asked.items():
            self.model.add_hint(lit, w in asked)

    def add_change_costs(self) -> cp_model.LinearExprT:
        """A visit kept from the anchor may change crew, shadows or start only at a price."""
        d, m, x, c = self.data, self.model, self.vars, self.costs
        flags = []
        for v in self.free:
            if v in c.orphans or v not in c.anchor.start:
                continue
            changed = m.new_bool_var(f"changed[{d.visit_ids[v]}]")
            self.changed[v] = changed
            flags.append(changed)
            m.add(x.start[v] == c.anchor.start[v]).only_enforce_if(~changed)
            m.add_implication(~changed, x.staffed[v])
            old = set(c.anchor.workers[v])
            for (u, w), lit in x.counted.items():
                if u == v:
                    m.add_implication(~changed, lit if w in old else ~lit)
            old_shadows = set(c.anchor.shadows.get(v, []))
            for (u, k), lit in x.shadow.items():
                if u == v:
                    m.add_implication(~changed, lit if k in old_shadows else ~lit)
            if any((v, w) not in x.counted for w in old) or any(
                (v, k) not in x.shadow for k in old_shadows
            ):
                m.add(changed == 1)
        if flags:
            outside = c.changes(self.sol, skip=set(self.free))
            m.add(cp_model.LinearExpr.sum(flags) <= max(0, c.max_changes - outside))
        return round(c.change_penalty * self.scale) * cp_model.LinearExpr.sum(flags)

    def add_cover_costs(self) -> cp_model.LinearExprT:
        """Asking a worker to take an orphaned visit costs more the more they were asked."""
        d, m, x, c = self.data, self.model, self.vars, self.costs
        lits: dict[int, list[cp_model.IntVar]] = defaultdict(list)
        for (v, w), lit in x.counted.items():
            if v in c.orphans and w not in c.anchor.workers.get(v, []):
                lits[w].append(lit)
        terms: list[cp_model.LinearExprT] = []
        for w, group in sorted(lits.items()):
            price = round(c.cover_price[w] * self.scale)
            if price <= 0:
                continue
            asked = m.new_bool_var(f"asked[worker={d.worker_ids[w]}]")
            self.asked[w] = asked
            m.add_max_equality(asked, group)
            terms.append(price * asked)
        return cp_model.LinearExpr.sum(terms)


# Carers per orphan in the first, narrow neighbourhood, and in the wide one if it must follow.
NEAR_PER_ORPHAN = 5
WIDE_PER_ORPHAN = 15
# Minutes either side of the orphans within which other visits may move, and the longest
# stretch of orphans' start times one neighbourhood takes.
BAND = 90
SPAN = 180
# Seconds at most for one neighbourhood.
STEP_SECONDS = 3.0
# The engine's default effort, in move evaluations: about half a second on the medium agency,
# repair included. Since the kernels stopped counting references (ten times the moves a
# second), 30,000 staffed 354 of 369 orphans over ten sick calls at seeds 0-2 against 348 for
# the 7,000 of before, with objectives 0.9% lower and the same median time; 60,000 staffed no
# more at seeds 1-2 (benchmarks/README.md, "Sick calls").
RESOLVE_MOVES = 30_000
# Share of the time limit the engine's annealing may take, and the engine with kept starts
# released by then; CP-SAT has what is left.
ENGINE_SHARE = 0.5
RELEASE_SHARE = 0.8
# The engine's change cap, as a multiple of the re-solve's, while kept starts may come
# forward: its count then includes every start its earliest schedule brought forward, most of
# which need not (toward_published puts them back; the real cap is checked after).
RELEASED_CAP = 3
# Minutes either side of an unstaffed orphan's window within which kept starts may come
# forward.
RELEASE_BAND = 120
# CP-SAT's deterministic time for putting starts back (a few hundred starts of one day).
TOWARD_DTIME = 1.0
# CP-SAT's deterministic time per neighbourhood after the engine: an intensifier, not the search.
INTENSIFY_DTIME = 1.0


def _ranked(data: ProblemData, sol: Solution, v: int) -> list[int]:
    """Candidates for ``v``: familiar first, then those already out near the client that day."""
    c = int(data.visit_client[v])
    place = data.visit_place(v)
    day = int(data.visit_day[v])
    near: dict[int, int] = {}
    for u, ws in sol.workers.items():
        if int(data.visit_day[u]) == day:
            for w in ws:
                gap = int(data.travel[data.worker_mode[w], data.visit_place(u), place])
                near[w] = min(near.get(w, gap), gap)

    def key(w: int) -> tuple[bool, bool, int]:
        home = int(data.travel[data.worker_mode[w], data.worker_place[w], place])
        return (not data.familiar[c, w], bool(data.is_coordinator[w]), near.get(w, home))

    return sorted(data.candidates[v], key=key)


def _hood(
    data: ProblemData, sol: Solution, orphans: list[int], frozen: set[int], workers: set[int]
) -> Neighbourhood:
    """The orphans, and the visits of ``workers`` near them in time, free; the rest fixed."""
    days = {int(data.visit_day[v]) for v in orphans}
    lo = min(int(data.earliest[v]) for v in orphans) - BAND
    hi = max(int(data.last_start[v] + data.duration[v]) for v in orphans) + BAND
    free = set(orphans)
    for v in range(data.n_visits):
        if v in frozen or int(data.visit_day[v]) not in days:
            continue
        if int(data.last_start[v] + data.duration[v]) < lo or int(data.earliest[v]) > hi:
            continue
        crew = set(sol.workers.get(v, [])) | set(sol.shadows.get(v, []))
        if crew and crew <= workers:
            free.add(v)
        elif not crew and set(data.candidates[v]) & workers:
            free.add(v)  # unstaffed before: a chance to staff it now
    return Neighbourhood(frozenset(free), frozenset(workers))


def _clusters(data: ProblemData, orphans: list[int]) -> list[list[int]]:
    """Orphans grouped by day and time: each group starts within ``SPAN`` of its first."""
    out: list[list[int]] = []
    for v in sorted(orphans, key=lambda v: (int(data.earliest[v]), v)):
        head = out[-1][0] if out else -1
        if (
            out
            and data.visit_day[v] == data.visit_day[head]
            and data.earliest[v] <= data.earliest[head] + SPAN
        ):
            out[-1].append(v)
        else:
            out.append([v])
    return out


def _step(
    data: ProblemData,
    current: Solution,
    best: float,
    costs: Costs,
    orphans: list[int],
    frozen: set[int],
    workers: set[int],
    options: ResolveOptions,
    seconds: float,
    dtime: float | None = None,
) -> tuple[Solution, float, str]:
    """One CP-SAT solve of a neighbourhood; its answer replaces ``current`` if it costs less.

    ``dtime`` (CP-SAT's deterministic time) makes the answer the same on any machine, as long as
    ``seconds`` of wall clock do not run out first."""
    built = time.monotonic()
    hood = _hood(data, current, orphans, frozen, workers)
    model = ResolveModel(data, current, hood, costs)
    model.hint(current)
    solver = cp_model.CpSolver()
    # The time limit covers building the model too: the caller's clock is what counts.
    solver.parameters.max_time_in_seconds = max(0.05, seconds - (time.monotonic() - built))
    solver.parameters.num_workers = options.workers
    if dtime is not None:
        solver.parameters.max_deterministic_time = dtime
    # Probing spends seconds on these models before the hint is even looked at; a re-solve has
    # seconds in all.
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.random_seed = options.seed
    solver.parameters.log_search_progress = options.log
    status = solver.solve(model.model)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        candidate = model.read(solver)
        total = costs.total(data, candidate)
        if total < best - 1e-6:
            current, best = candidate, total
    line = (
        f"{len(hood.workers)} workers, {len(model.free)} visits, "
        f"{solver.status_name(status)} in {solver.wall_time:.2f} s, {best:.1f}"
    )
    return current, best, line


def _lost(data: ProblemData, before: Rota, anchor: Solution, frozen: set[int]) -> set[int]:
    """Visits that need a crew as much as the orphans do, though the anchor never had them:
    those ``before`` staffed with a worker the problem no longer has, and visits ``before``
    never saw (a what-if's new clients)."""
    staffed = {a.visit for a in before.assignments}
    seen = staffed | {u.visit for u in before.unassigned}
    return {
        v
        for v, vid in enumerate(data.visit_ids)
        if v not in anchor.start and v not in frozen and (vid in staffed or vid not in seen)
    }


def _kept_reasons(before: Rota, after: Rota, orphaned: set[str]) -> Rota:
    """``after`` with the reasons ``before`` gave for visits unstaffed in both and not orphaned:
    the re-solve did not touch them, so what the office was told about them still stands."""
    reasons = {u.visit: u for u in before.unassigned if u.visit not in orphaned}
    kept = [reasons.get(u.visit, u) for u in after.unassigned]
    return after if kept == after.unassigned else after.model_copy(update={"unassigned": kept})


def _builder_repair(data: ProblemData, current: Solution, orphans: list[int]) -> Solution:
    """The previous design's repair: each orphan, latest window first, gets the cheapest
    familiar crew the construction heuristic finds."""
    builder = Builder.loaded(data, current)
    for v in sorted(orphans, key=lambda v: (int(data.latest[v]), v)):
        builder.staff(v, pool=_ranked(data, current, v))
    return builder.sol


def anchor_of(
    data: ProblemData, costs: Costs, frozen: set[int], release: list[int] | None = None
) -> Anchor:
    """The engine's view of the published rota and of ``costs``: held starts, priced changes,
    the change cap, locked visits.

    Only the orphans' days are open to the search; every visit of another day is locked, as is
    every frozen one. With ``release`` (orphans), the kept visits of their day within
    :data:`RELEASE_BAND` of their windows may come forward, and the cap is
    :data:`RELEASED_CAP` times the real one: the engine then counts every start its earliest
    schedule brought forward, most of which :func:`toward_published` puts back.
    """
    nv = data.n_visits
    anchor, orphans = costs.anchor, sorted(costs.orphans)
    start = np.full(nv, -1, dtype=np.int64)
    crew = np.full((nv, 2), -1, dtype=np.int64)
    shadow = np.full(nv, -1, dtype=np.int64)
    for v, s in anchor.start.items():
        start[v] = s
        crew[v, : len(anchor.workers[v])] = anchor.workers[v]
        # Only the client's own coordinator shadows a visit: one at most.
        for k in anchor.shadows.get(v, [])[:1]:
            shadow[v] = k
    orphan = np.zeros(nv, dtype=bool)
    orphan[orphans] = True
    days = np.unique(data.visit_day[orphans]) if orphans else np.zeros(0, dtype=np.int64)
    lock = ~np.isin(data.visit_day, days)
    lock[sorted(frozen)] = True
    near = np.zeros(nv, dtype=bool)
    for v in release or []:
        lo = int(data.earliest[v]) - RELEASE_BAND
        hi = int(data.last_start[v] + data.duration[v]) + RELEASE_BAND
        day = data.visit_day == data.visit_day[v]
        near |= day & (data.last_start >= lo) & (data.earliest <= hi)
    return Anchor(
        start=start,
        crew=crew,
        shadow=shadow,
        tracked=(start >= 0) & ~orphan,
        orphan=orphan,
        lock=lock,
        change_penalty=costs.change_penalty,
        cover_price=np.array([costs.cover_price[w] for w in range(data.n_workers)]),
        max_changes=costs.max_changes if release is None else RELEASED_CAP * costs.max_changes,
        release=near & (start >= 0) & ~orphan,
    )


def _engine_repair(
    data: ProblemData,
    current: Solution,
    frozen: set[int],
    costs: Costs,
    options: ResolveOptions,
    deadline: float,
    stages: list[str],
    release: list[int] | None = None,
) -> tuple[Solution, float] | None:
    """The engine's repair of ``current`` (the kept rota): orphans inserted at their cheapest
    places, room made for those left (with ``options.repair``), then ``options.moves`` of
    annealing by each of ``options.workers`` walkers on their days under the re-solve's
    objective and cap, then (with ``options.repair``) room made again for the orphans still
    left; the
    rota and that objective (:meth:`Costs.total`, kept exact by the engine). None if the
    engine cannot hold the kept rota as it is (a start its whole-minute travel would push, or a
    what-if's longer visit or tighter cap that a kept day no longer fits). With ``release``
    (orphans), kept starts near them may come forward (:func:`anchor_of`), and the objective
    is the engine's count.
    """
    engine = Engine(data)
    engine.anchor(anchor_of(data, costs, frozen, release))
    if not engine.load(current) or (release is None and engine.solution().start != current.start):
        stages.append("engine: the kept rota does not fit its schedule, construction instead")
        return None
    order = sorted(costs.orphans, key=lambda v: (int(data.latest[v]), v))
    placed = engine.insert_unstaffed(order)
    stages.append(f"engine insertion: {placed} of {len(order)} orphans, {engine.objective:.1f}")
    if options.repair:
        # Room made before the annealing too: the annealing then starts with those orphans
        # staffed and can settle the routes around them (116 orphans of 123 on the medium
        # agency's ten sick calls, against 113 with the repair after the annealing alone).
        # Clearing a carer's route around an orphan here too, not only after the annealing,
        # staffed 368 orphans of 375 over those calls at seeds 0-2, against 363 (360 without
        # the clearing), at about 0.3 s more of the median re-solve.
        placed = engine.repair(order, clear=True)
        stages.append(f"engine repair first: {placed} more, {engine.objective:.1f}")
    # Hot enough at first to take a change (at its penalty) that opens the way for an orphan:
    # on the medium agency's ten sick calls this staffed 120 orphans of 127, against 114 from
    # the normal solve's temperature (half a face), which stays on the first local optimum.
    hot = max(costs.change_penalty, engine.start_temperature())
    moves = options.moves if options.moves is not None else RESOLVE_MOVES
    sol = engine.anneal(
        moves,
        options.seed,
        walkers=options.workers,
        t0=hot,
        deadline=deadline,
        weights=RESOLVE_MOVE_WEIGHTS,
    )
    stages.append(f"engine annealing: {engine.stats.moves} moves, {engine.objective:.1f}")
    # Clearing room in a fixed order after the annealing staffs orphans its random chains
    # missed, double-ups above all; it only ever lowers the objective the annealing reached.
    if options.repair:
        placed = engine.repair(order, clear=True)
        if placed:
            sol = engine.solution()
        stages.append(f"engine repair: {placed} more, {engine.objective:.1f}")
    return sol, engine.objective


def toward_published(
    data: ProblemData, sol: Solution, costs: Costs, frozen: set[int], seconds: float, seed: int
) -> tuple[Solution, float]:
    """``sol`` with its routes and crews as they are and as many starts as they allow back at
    their published times, lateness priced as the contract prices it; and its
    :meth:`Costs.total`.

    The engine's earliest schedule brings every stop of a route it touched forward as far as
    it goes, where perhaps one had to come forward to make room; each start moved is a call
    to a carer. A CP-SAT model over the starts of the orphans' days (each route's order,
    shifts, travel and ``after`` links as constraints) finds which must. ``sol`` itself if it
    finds nothing cheaper.
    """
    before = costs.total(data, sol)
    days = {int(data.visit_day[v]) for v in costs.orphans}
    fixed = {v for v in sol.start if int(data.visit_day[v]) not in days or v in frozen}
    m, start, lateness = timing_model(data, sol, account(data, sol).legs, fixed)
    moves: list[cp_model.IntVar] = []
    for v in sol.start:
        if v in fixed or v in costs.orphans or v not in costs.anchor.start:
            continue
        was = costs.anchor.start[v]
        if not costs.recrewed(sol, v) and data.earliest[v] <= was <= data.last_start[v]:
            moved = m.new_bool_var(f"moved[{v}]")
            m.add(start[v] == was).only_enforce_if(~moved)
            moves.append(moved)
    changed = round(costs.change_penalty * PER_MINUTE) * cp_model.LinearExpr.sum(moves)
    m.minimize(cp_model.LinearExpr.sum([changed, lateness]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.max_deterministic_time = TOWARD_DTIME
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return sol, before
    out = sol.copy()
    out.start = {v: int(solver.value(x)) for v, x in start.items()}
    after = costs.total(data, out)
    return (out, after) if after < before else (sol, before)


def _released(
    data: ProblemData,
    current: Solution,
    best: float,
    frozen: set[int],
    costs: Costs,
    options: ResolveOptions,
    deadline: float,
    stages: list[str],
    unstaffed: list[int],
) -> tuple[Solution, float]:
    """The engine again from ``current``, kept starts near the ``unstaffed`` orphans free to
    come forward, then as many put back as the routes allow; its rota if it costs less within
    the change cap, else ``current``."""
    released = _engine_repair(data, current, frozen, costs, options, deadline, stages, unstaffed)
    if released is None:
        return current, best
    sol, total = toward_published(
        data, released[0], costs, frozen, deadline - time.monotonic(), options.seed
    )
    changed = costs.changes(sol)
    kept = changed <= costs.max_changes and total < best - 1e-6
    staffed = sum(1 for v in costs.orphans if v in sol.start)
    stages.append(
        f"starts brought forward: {staffed} orphans staffed, {changed} changes, {total:.1f} "
        f"({'kept' if kept else 'not kept'})"
    )
    return (sol, total) if kept else (current, best)


def situation(
    problem: Problem, before: Rota, now: datetime | None, options: ResolveOptions
) -> tuple[ProblemData, Solution, set[int], Costs]:
    """What a re-solve starts from: the data (nothing but the frozen visits before ``now``), the
    kept rota, the frozen visits and the re-solve's costs around the published rota."""
    full = build(problem)
    anchor = solution_of(full, before)
    moment = -(10**9) if now is None else full.clock.minute_up(now)
    frozen = {v for v, s in anchor.start.items() if s < moment}
    data = not_before(full, moment, frozen) if now is not None else full
    current, orphans = admissible(data, anchor, held=True, frozen=frozen)
    orphans = sorted(set(orphans) | _lost(data, before, anchor, frozen))
    counts = {w: options.cover_counts.get(wid, 0) for w, wid in enumerate(data.worker_ids)}
    costs = Costs(
        anchor=anchor,
        orphans=frozenset(orphans),
        change_penalty=options.change_penalty,
        max_changes=int(options.max_change_ratio * len(orphans)),
        cover_price={w: options.cover_penalty * (1 + n) for w, n in counts.items()},
    )
    return data, current, frozen, costs


def resolve(
    problem: Problem,
    before: Rota,
    now: datetime | None,
    options: ResolveOptions | None = None,
) -> Resolved:
    """Repair ``before`` (a rota of a previous version of ``problem``) for ``problem``.

    ``problem`` usually comes from :func:`apply_absences`. Visits that started before ``now``
    are frozen; everything else keeps its crew and start unless a change buys a better rota,
    each change costing ``options.change_penalty``.
    """
    options = options or ResolveOptions()
    began = time.monotonic()
    data, current, frozen, costs = situation(problem, before, now, options)
    orphans = sorted(costs.orphans)
    stages = [f"{len(frozen)} visits frozen, {len(orphans)} orphaned"]
    repaired = None
    if options.method == "engine":
        deadline = began + ENGINE_SHARE * options.time_limit
        repaired = _engine_repair(data, current, frozen, costs, options, deadline, stages)
    if repaired is None:
        current = _builder_repair(data, current, orphans)
        best = costs.total(data, current)
        stages.append(f"construction: {best:.1f}")
    else:
        current, best = repaired
        unstaffed = [
            v
            for v in orphans
            if v not in current.start and len(data.candidates[v]) >= int(data.required[v])
        ]
        if options.release and unstaffed:
            deadline = began + RELEASE_SHARE * options.time_limit
            current, best = _released(
                data, current, best, frozen, costs, options, deadline, stages, unstaffed
            )

    # Writing the rota and its reasons afterwards costs about what reading the problem and
    # building the first answer did: keep that much back, so the whole call fits the limit.
    deadline = began + options.time_limit - max(0.3, 2 * (time.monotonic() - began))
    # After the engine, CP-SAT only takes the orphans still unstaffed, for a fixed effort each.
    # Orphans nobody can ever staff (no candidate crew) are not worth a model.
    todo = [
        v
        for v in orphans
        if (repaired is None or (options.intensify and v not in current.start))
        and len(data.candidates[v]) >= int(data.required[v])
    ]
    dtime = None if repaired is None else INTENSIFY_DTIME
    # First a narrow neighbourhood per group of orphans close in time: the carers best placed
    # for them, and only their visits around that time.
    plans: list[tuple[str, list[int], set[int]]] = []
    for group in _clusters(data, todo):
        near: set[int] = set()
        for v in group:
            near.update(_ranked(data, current, v)[:NEAR_PER_ORPHAN])
            near.update(current.workers.get(v, []))
        first = data.clock.local(int(data.earliest[group[0]]))
        plans.append((f"near {first:%a %H:%M}", group, near))
    widened = False
    while plans:
        name, group, workers = plans.pop(0)
        left = deadline - time.monotonic()
        if left <= 0.05:
            stages.append(f"{name}: skipped, out of time")
            continue
        seconds = min(STEP_SECONDS, left / (1 + len(plans)))
        current, best, line = _step(
            data, current, best, costs, group, frozen, workers, options, seconds, dtime
        )
        stages.append(f"{name}: {line}")
        if not plans and not widened:
            # Orphans still unstaffed that carers outside their neighbourhood could take: one
            # more pass per group, with many more carers.
            widened = True
            for grp in _clusters(data, [v for v in todo if v not in current.start]):
                wide: set[int] = set()
                for v in grp:
                    wide.update(_ranked(data, current, v)[:WIDE_PER_ORPHAN])
                    wide.update(current.workers.get(v, []))
                first = data.clock.local(int(data.earliest[grp[0]]))
                plans.append((f"wide {first:%a %H:%M}", grp, wide))

    orphaned = [data.visit_ids[v] for v in orphans]
    rota = _kept_reasons(before, finish(data, current, "feasible", None), set(orphaned))
    return Resolved(
        problem=problem,
        rota=rota,
        changes=changes(before, rota, problem, since=now),
        orphaned=orphaned,
        covers={data.worker_ids[w]: n for w, n in costs.covers(current).items()},
        frozen=len(frozen),
        stages=stages,
        elapsed=time.monotonic() - began,
    )
