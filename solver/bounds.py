"""Valid lower bounds on the objective, cheap enough to compute before the search.

Every term of the objective is non-negative, so any term's own lower bound bounds the whole. Two
terms have bounds worth computing:

- visits no crew can ever staff (too few candidate workers at all) cost ``unassigned_visit`` each;
- the coordinator rule: for each coordinator and month, the most open clients the coordinator
  could see *if nobody else existed* (their own shifts, travel and field time only) is an upper
  bound on the clients they can see in any rota, so ``required - that`` is a floor on the
  shortfall. It is found by a small CP-SAT model per coordinator and month, and when that model
  stops before proving its optimum its own bound is used, which keeps the floor valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from solver.continuity import fewest_faces
from solver.data import CoordinatorRequirement, ProblemData


def unstaffable_visits(data: ProblemData) -> int:
    """Visits with fewer candidate workers than they need, whatever the rest of the rota."""
    return sum(1 for v, crew in enumerate(data.candidates) if len(crew) < int(data.required[v]))


@dataclass(frozen=True)
class Reach:
    """How many distinct clients one coordinator can attend on their own, by solving."""

    seen: int  # clients attended in the best plan found (achievable)
    bound: int  # no plan attends more (equal to ``seen`` when proven)

    @property
    def proven(self) -> bool:
        return self.seen == self.bound


def coordinator_reach(
    data: ProblemData,
    k: int,
    clients: Iterable[int],
    days: Iterable[int],
    time_limit: float,
    budget: int | None = None,
    floor: int = 0,
) -> Reach:
    """The most of ``clients`` that coordinator ``k`` can attend on period ``days``.

    Only ``k``'s own shifts, travel and field time count, as if nobody else existed: ``k`` may
    attend (shadow) any visit whose client allows them and that fits one of their shifts.
    ``budget`` replaces ``k``'s ``max_minutes_per_week`` (None: keep it). ``floor`` is a count
    already known to be achievable (e.g. with a smaller budget); it is required of the plan.
    """
    open_clients = set(clients)
    day_set = set(days)
    cap = int(data.max_week[k]) if budget is None else budget
    visits = [
        int(v)
        for v in np.flatnonzero(np.isin(data.visit_client, list(open_clients)))
        if int(data.visit_day[v]) in day_set and k in data.visit_shift[v] and data.allowed[v, k]
    ]
    m = cp_model.CpModel()
    tt = data.travel[int(data.worker_mode[k])]
    by_shift: dict[int, list[int]] = {}
    for v in visits:
        by_shift.setdefault(data.visit_shift[v][k], []).append(v)
    on: dict[int, cp_model.IntVar] = {}
    work: list[cp_model.LinearExprT] = []
    for h, group in by_shift.items():
        s0, s1 = int(data.shift_start[h]), int(data.shift_end[h])
        lo = {v: max(int(data.earliest[v]), s0) for v in group}
        hi = {v: min(int(data.last_start[v]), s1 - int(data.duration[v])) for v in group}
        group = [v for v in group if lo[v] <= hi[v]]
        arcs: list[tuple[int, int, cp_model.LiteralT]] = [(0, 0, m.new_bool_var(""))]
        start = {}
        for i, v in enumerate(group, start=1):
            on[v] = m.new_bool_var("")
            start[v] = m.new_int_var(lo[v], hi[v], "")
            arcs += [(i, i, ~on[v]), (0, i, m.new_bool_var("")), (i, 0, m.new_bool_var(""))]
            work.append(int(data.duration[v]) * on[v])
        for i, a in enumerate(group, start=1):
            for j, b in enumerate(group, start=1):
                gap = int(tt[data.visit_place(a), data.visit_place(b)])
                # Arcs that no start times allow, and arcs between two visits of one client
                # (one visit a client is enough, below), cannot be in a best plan.
                same_client = data.visit_client[a] == data.visit_client[b]
                if i == j or same_client or lo[a] + int(data.duration[a]) + gap > hi[b]:
                    continue
                lit = m.new_bool_var("")
                arcs.append((i, j, lit))
                m.add(start[b] >= start[a] + int(data.duration[a]) + gap).only_enforce_if(lit)
                work.append(gap * lit)
        # Home legs are not working minutes, so they do not bind the field-time cap.
        m.add_circuit(arcs)
    if cap >= 0:
        m.add(cp_model.LinearExpr.sum(work) <= cap)
    # Attending a client twice never helps: dropping the second visit keeps the plan feasible
    # (travel keeps the triangle inequality to within a minute, and a visit lasts longer), so
    # counting visits with at most one per client counts distinct clients exactly.
    mine: dict[int, list[cp_model.IntVar]] = {}
    for v, lit in on.items():
        mine.setdefault(int(data.visit_client[v]), []).append(lit)
    for lits in mine.values():
        m.add_at_most_one(lits)
    if not on:
        return Reach(0, 0)
    total = cp_model.LinearExpr.sum(list(on.values()))
    if floor > 0:
        m.add(total >= floor)
    m.maximize(total)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    status = solver.solve(m)
    if status == cp_model.INFEASIBLE:
        # Only a floor no plan reaches makes this model infeasible; the caller's floor stands.
        return Reach(floor, floor)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Reach(floor, len(mine))
    return Reach(round(solver.objective_value), int(solver.best_objective_bound + 1e-6))


def most_clients_seen(data: ProblemData, req: CoordinatorRequirement, time_limit: float) -> int:
    """An upper bound on how many of ``req``'s open clients its coordinator can see."""
    reach = coordinator_reach(
        data, req.coordinator, req.clients.tolist(), req.days.tolist(), time_limit
    )
    return reach.bound


def lower_bound(data: ProblemData, time_limit: float = 1.0) -> float:
    """A valid lower bound on the objective of any rota for ``data``."""
    wt = data.weights
    floor = wt.unassigned_visit * unstaffable_visits(data)
    if wt.coordinator_rule > 0:
        for req in data.requirements:
            if req.required > 0:
                reach = most_clients_seen(data, req, time_limit)
                floor += wt.coordinator_rule * max(0, req.required - reach)
    return float(floor)


@dataclass(frozen=True)
class FacesFloor:
    """The fewest faces (client-weeks summed) a rota can show, from a relaxation of the rota."""

    faces: int  # the relaxation's best plan found (no rota shows fewer than ``bound``)
    bound: int  # proven: every rota that staffs ``staffed`` visits shows at least this many
    client_weeks: int  # client-weeks with visits: the mean is a total over this

    @property
    def per_client_week(self) -> float:
        return self.bound / self.client_weeks if self.client_weeks else 0.0


def faces_floor(
    data: ProblemData,
    staffed: int,
    time_limit: float,
    hint: dict[int, list[int]] | None = None,
    window: int = 180,
) -> FacesFloor:
    """A lower bound on the faces of any rota that staffs ``staffed`` visits or more and some
    visit of every client in every week it has visits (the QS182 count, per 7 days).

    The availability floor (:func:`solver.continuity.fewest_faces`) ignores capacity; this one
    keeps what capacity a relaxation can: each staffed visit gets ``required`` candidate workers
    (skills, preferences, exclusions, a shift holding it), no worker twice on a
    ``distinct_workers`` pair, no worker on two visits that fit one shift in neither order
    (windows, durations and the travel between them), and no more visit minutes in a stretch of
    a shift than the stretch holds, for the visits whose windows lie inside it (stretches up to
    ``window`` minutes), nor above a worker's caps; and each client-week's availability floor,
    less what its unstaffed visits would need. Starts in step with a double-up, ``after``
    timings, pins, shadows and the objective's other terms are dropped: every rota is a plan of the
    relaxation, so its optimum, and CP-SAT's bound on it, is a floor on the rota's faces.
    ``hint`` (visit -> workers, e.g. a rota's) is handed to CP-SAT as a first plan.
    """
    m = cp_model.CpModel()
    n_v = data.n_visits
    week = (data.visit_day // 7).astype(np.int64)
    on: dict[tuple[int, int], cp_model.IntVar] = {}
    staff: list[cp_model.IntVar] = []
    seen: dict[tuple[int, int], list[cp_model.IntVar]] = {}
    # Per client-week, each worker's face: grouped so a client-week's cut reads its own.
    face: dict[tuple[int, int], dict[int, cp_model.IntVar]] = {}
    needs: dict[tuple[int, int], list[tuple[frozenset[str], int, cp_model.IntVar]]] = {}
    for v in range(n_v):
        crew, need = data.candidates[v], int(data.required[v])
        if len(crew) < need:
            continue
        s = m.new_bool_var("")
        staff.append(s)
        key = (int(data.visit_client[v]), int(week[v]))
        seen.setdefault(key, []).append(s)
        able = frozenset(data.worker_ids[w] for w in crew)
        needs.setdefault(key, []).append((able, need, s))
        lits = []
        mine = face.setdefault(key, {})
        for w in crew:
            lit = on[v, w] = m.new_bool_var("")
            lits.append(lit)
            f = mine.get(w)
            if f is None:
                f = mine[w] = m.new_bool_var("")
            m.add(f >= lit)  # linear, so the LP sees it: the bound comes from the LP
        m.add(cp_model.LinearExpr.sum(lits) == need * s)
    client_weeks = len(seen)
    m.add(cp_model.LinearExpr.sum(staff) >= staffed)
    # The availability floor of each client-week, less what its unstaffed visits would have
    # needed: a cut the LP cannot find alone (a fractional cover is far below the whole one).
    for key, rows in needs.items():
        fewest = fewest_faces([(able, r) for able, r, _ in rows])
        dropped = [r * (1 - s) for _, r, s in rows]
        faces = list(face[key].values())
        m.add(cp_model.LinearExpr.sum(faces) + cp_model.LinearExpr.sum(dropped) >= fewest)
    for lits in seen.values():
        m.add(cp_model.LinearExpr.sum(lits) >= 1)
    _apart(m, data, on)
    _capacity(m, data, on, window)
    if hint:
        for (v, w), lit in on.items():
            m.add_hint(lit, w in hint.get(v, ()))
    m.minimize(cp_model.LinearExpr.sum([f for mine in face.values() for f in mine.values()]))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    solver.parameters.linearization_level = 2
    status = solver.solve(m)
    if status == cp_model.INFEASIBLE:
        raise ValueError(f"no plan staffs {staffed} visits and every client every week")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # No plan found in time; the bound CP-SAT has proven still stands.
        bound = int(np.ceil(solver.best_objective_bound - 1e-6))
        return FacesFloor(-1, bound, client_weeks)
    return FacesFloor(
        round(solver.objective_value),
        int(np.ceil(solver.best_objective_bound - 1e-6)),
        client_weeks,
    )


@dataclass(frozen=True)
class FamiliarCeiling:
    """The most visit slots familiar carers can take, from a relaxation of the rota."""

    slots: int  # all the problem's visit slots (a visit's workers counted one each)
    best: int  # the relaxation's best plan found: slots familiar carers take in it
    bound: int  # proven: no rota has familiar carers on more slots than this

    @property
    def share(self) -> float:
        return self.bound / self.slots if self.slots else 1.0


def familiar_ceiling(data: ProblemData, time_limit: float, window: int = 180) -> FamiliarCeiling:
    """An upper bound on the visit slots a rota can give a familiar carer (one in the client's
    history or preferred workers), with capacity in view.

    The ceiling :func:`solver.continuity.measure` reports counts a slot where any familiar
    carer has the skills and a shift holding the visit, as if each could be at every such
    visit at once. Here each familiar carer's time is kept as :func:`faces_floor` keeps it: no
    two visits that fit one shift in neither order, no more visit minutes in a stretch of a
    shift than it holds, the caps, no carer twice on a ``distinct_workers`` pair. Everything a
    rota must also do (staff the other visits, routes, starts in step) is dropped, so the
    familiar slots of every rota form a plan of it and CP-SAT's bound is a ceiling on them.
    """
    m = cp_model.CpModel()
    on: dict[tuple[int, int], cp_model.IntVar] = {}
    slots = most = 0
    for v in range(data.n_visits):
        need = int(data.required[v])
        slots += need
        cl = int(data.visit_client[v])
        mine = [w for w in data.candidates[v] if data.familiar[cl, w]]
        most += min(need, len(mine))
        for w in mine:
            on[v, w] = m.new_bool_var("")
        if len(mine) > need:
            m.add(cp_model.LinearExpr.sum([on[v, w] for w in mine]) <= need)
    _apart(m, data, on)
    _capacity(m, data, on, window)
    m.maximize(cp_model.LinearExpr.sum(list(on.values())))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    # The LP proves a week whose history is last week's rota (every slot may be familiar) in
    # 0.4 s; without it one worker ran to the limit, its bound at the count of variables.
    solver.parameters.linearization_level = 2
    status = solver.solve(m)
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    proven = solver.best_objective_bound
    # The ceiling without capacity holds too: a bound cut short by the time limit is never
    # allowed above it.
    bound = min(most, int(np.floor(proven + 1e-6))) if np.isfinite(proven) else most
    return FamiliarCeiling(slots, round(solver.objective_value) if found else -1, bound)


def _apart(
    m: cp_model.CpModel, data: ProblemData, on: dict[tuple[int, int], cp_model.IntVar]
) -> None:
    """No worker on both visits of a ``distinct_workers`` pair (where ``on`` has both)."""
    for v in range(data.n_visits):
        for u in data.distinct_links[v]:
            if u > v:
                for w in set(data.candidates[v]) & set(data.candidates[u]):
                    if (v, w) in on and (u, w) in on:
                        m.add_at_most_one(on[v, w], on[u, w])


def _capacity(
    m: cp_model.CpModel,
    data: ProblemData,
    on: dict[tuple[int, int], cp_model.IntVar],
    window: int,
) -> None:
    """Each worker's time: pairs that fit a shift in neither order, visit minutes in stretches
    of a shift and under the caps (see :func:`faces_floor`)."""
    by_shift: dict[int, list[int]] = {}
    by_worker: dict[int, list[int]] = {}
    by_day: dict[tuple[int, int], list[int]] = {}
    for v, w in on:
        by_shift.setdefault(data.visit_shift[v][w], []).append(v)
        by_worker.setdefault(w, []).append(v)
        by_day.setdefault((w, int(data.visit_day[v])), []).append(v)
    dur = data.duration
    for h, group in by_shift.items():
        w = int(data.shift_worker[h])
        # Whole minutes rounded down: a leg is never shorter than this, so no pair is cut wrongly.
        tt = np.floor(data.travel_exact[int(data.worker_mode[w])]).astype(np.int64)
        s0, s1 = int(data.shift_start[h]), int(data.shift_end[h])
        lo = {v: max(int(data.earliest[v]), s0) for v in group}
        hi = {v: min(int(data.last_start[v]), s1 - int(dur[v])) for v in group}
        group.sort(key=lambda v: lo[v])
        longest = int(tt.max())
        for i, a in enumerate(group):
            pa = data.visit_place(a)
            for b in group[i + 1 :]:
                if lo[b] > hi[a] + int(dur[a]) + longest:
                    break  # b may always follow a; so may every later one
                pb = data.visit_place(b)
                a_first = lo[a] + int(dur[a]) + int(tt[pa, pb]) <= hi[b]
                b_first = lo[b] + int(dur[b]) + int(tt[pb, pa]) <= hi[a]
                if not (a_first or b_first):
                    m.add_at_most_one(on[a, w], on[b, w])
        # Visit minutes in a stretch [open, close] of the shift: only visits done wholly inside.
        opens = sorted({lo[v] for v in group})
        closes = sorted({hi[v] + int(dur[v]) for v in group})
        for a0 in opens:
            inside_of = [v for v in group if lo[v] >= a0]
            for b0 in closes:
                if b0 <= a0 or b0 - a0 > window:
                    continue
                inside = [v for v in inside_of if hi[v] + int(dur[v]) <= b0]
                if sum(int(dur[v]) for v in inside) > b0 - a0:
                    m.add(sum(int(dur[v]) * on[v, w] for v in inside) <= b0 - a0)
    for w, group in by_worker.items():
        if data.max_week[w] >= 0:
            m.add(sum(int(dur[v]) * on[v, w] for v in group) <= int(data.max_week[w]))
    for (w, day), group in by_day.items():
        if data.max_day[w] >= 0:
            # A visit that may run past midnight counts partly on the next day: left out.
            whole = [v for v in group if data.last_start[v] + dur[v] <= data.day_start[day + 1]]
            m.add(sum(int(dur[v]) * on[v, w] for v in whole) <= int(data.max_day[w]))
