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
