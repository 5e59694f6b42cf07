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

import numpy as np
from ortools.sat.python import cp_model

from solver.data import CoordinatorRequirement, ProblemData


def unstaffable_visits(data: ProblemData) -> int:
    """Visits with fewer candidate workers than they need, whatever the rest of the rota."""
    return sum(1 for v, crew in enumerate(data.candidates) if len(crew) < int(data.required[v]))


def most_clients_seen(data: ProblemData, req: CoordinatorRequirement, time_limit: float) -> int:
    """An upper bound on how many of ``req``'s open clients its coordinator can see."""
    k, days = req.coordinator, set(req.days.tolist())
    open_clients = set(req.clients.tolist())
    visits = [
        int(v)
        for v in np.flatnonzero(np.isin(data.visit_client, list(open_clients)))
        if int(data.visit_day[v]) in days and k in data.visit_shift[v] and data.allowed[v, k]
    ]
    if not visits:
        return 0
    m = cp_model.CpModel()
    tt = data.travel[int(data.worker_mode[k])]
    by_shift: dict[int, list[int]] = {}
    for v in visits:
        by_shift.setdefault(data.visit_shift[v][k], []).append(v)
    on: dict[int, cp_model.IntVar] = {}
    work: list[cp_model.LinearExprT] = []
    for h, group in by_shift.items():
        s0, s1 = int(data.shift_start[h]), int(data.shift_end[h])
        arcs: list[tuple[int, int, cp_model.LiteralT]] = [(0, 0, m.new_bool_var(""))]
        start = {}
        for i, v in enumerate(group, start=1):
            lo = max(int(data.earliest[v]), s0)
            hi = min(int(data.last_start[v]), s1 - int(data.duration[v]))
            on[v] = m.new_bool_var("")
            start[v] = m.new_int_var(min(lo, hi), max(lo, hi), "")
            if lo > hi:
                m.add(on[v] == 0)
            arcs += [(i, i, ~on[v]), (0, i, m.new_bool_var("")), (i, 0, m.new_bool_var(""))]
            work.append(int(data.duration[v]) * on[v])
        for i, a in enumerate(group, start=1):
            for j, b in enumerate(group, start=1):
                if i == j:
                    continue
                gap = int(tt[data.visit_place(a), data.visit_place(b)])
                lit = m.new_bool_var("")
                arcs.append((i, j, lit))
                m.add(start[b] >= start[a] + int(data.duration[a]) + gap).only_enforce_if(lit)
                work.append(gap * lit)
        # Home legs are not working minutes, so they do not bind the field-time cap.
        m.add_circuit(arcs)
    if data.max_week[k] >= 0:
        m.add(cp_model.LinearExpr.sum(work) <= int(data.max_week[k]))
    seen = []
    for c in open_clients:
        mine = [on[v] for v in visits if int(data.visit_client[v]) == c]
        if mine:
            s = m.new_bool_var("")
            m.add_max_equality(s, mine)
            seen.append(s)
    m.maximize(sum(seen))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.num_workers = 1
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return len(seen)
    return int(solver.best_objective_bound + 1e-6)


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
