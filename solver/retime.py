"""Start times to the second on fixed routes, where fractional travel makes minutes too coarse.

The model schedules in whole minutes with travel rounded up, which is exact when travel is a
whole number of minutes. A matrix of fractional minutes (the research instances) loses up to a
minute a leg, and where lateness costs, those lost seconds are paid for. :func:`retime` keeps
every route and crew as they are and moves the starts, in whole seconds, to the cheapest
lateness the exact travel allows. Nothing else in the objective depends on the starts: travel,
continuity and working minutes are fixed by the routes, and a visit stays on its day because its
window and late allowance do.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import replace

import numpy as np
from ortools.sat.python import cp_model

from solver.data import ProblemData, scaled
from solver.rota import Leg, Solution, account

# Lateness is priced per second; whole units per minute of weight keep the ratio of the two
# lateness weights to a thousandth.
PER_MINUTE = 1000
SECONDS = 60


def needed(data: ProblemData) -> bool:
    """Whether seconds can lower the objective: fractional travel and lateness that costs."""
    wt = data.weights
    if wt.late_minute <= 0 and wt.max_late_minute <= 0:
        return False
    if not np.any(data.late_allowed > 0):
        return False
    return bool(np.any(data.travel_exact != np.floor(data.travel_exact)))


def timing_model(
    data: ProblemData, sol: Solution, legs: dict[int, list[Leg]], fixed: AbstractSet[int]
) -> tuple[cp_model.CpModel, dict[int, cp_model.IntVar], cp_model.LinearExprT]:
    """A CP-SAT model of the starts of ``sol``'s visits on its routes (``legs``, from
    :func:`~solver.rota.account`) in ``data``'s time units: each route's order, shifts and
    travel and every ``after`` link as constraints, the ``fixed`` visits where they are; the
    starts, hinted with ``sol``'s, and the lateness cost: each time unit late at
    :data:`PER_MINUTE` times its weight (in minutes, the contract's objective times
    :data:`PER_MINUTE`)."""
    m = cp_model.CpModel()
    start: dict[int, cp_model.IntVar] = {}
    for v, at in sol.start.items():
        if v in fixed:
            start[v] = m.new_constant(at)
        else:
            last = int(data.latest[v] + data.late_allowed[v])
            start[v] = m.new_int_var(int(data.earliest[v]), last, f"start[{v}]")
            m.add_hint(start[v], at)
    for w, mine in legs.items():
        tt = data.travel[int(data.worker_mode[w])]
        for i, leg in enumerate(mine):
            v, h = leg.visit, leg.shift
            m.add(start[v] >= int(data.shift_start[h]))
            m.add(start[v] + int(data.duration[v]) <= int(data.shift_end[h]))
            if i and mine[i - 1].shift == h:
                u = mine[i - 1].visit
                gap = int(tt[data.visit_place(u), data.visit_place(v)])
                m.add(start[v] >= start[u] + int(data.duration[u]) + gap)
    for v in sol.start:
        u = int(data.after_visit[v])
        if u >= 0 and u in sol.start:
            m.add(start[v] - start[u] >= int(data.after_min[v]))
            m.add(start[v] - start[u] <= int(data.after_max[v]))
    late_terms: list[cp_model.IntVar] = []
    floor = max([0, *(sol.start[v] - int(data.latest[v]) for v in fixed if v in sol.start)])
    worst = m.new_int_var(floor, max(1, floor, int(data.late_allowed.max())), "max_late")
    for v in sol.start:
        if v in fixed or data.late_allowed[v] <= 0:
            continue
        late = m.new_int_var(0, int(data.late_allowed[v]), f"late[{v}]")
        m.add(late >= start[v] - int(data.latest[v]))
        m.add(worst >= late)
        late_terms.append(late)
    wt = data.weights
    cost = (
        round(wt.late_minute * PER_MINUTE) * cp_model.LinearExpr.sum(late_terms)
        + round(wt.max_late_minute * PER_MINUTE) * worst
    )
    return m, start, cost


def retime(data: ProblemData, sol: Solution, time_limit: float = 2.0, seed: int = 0) -> Solution:
    """``sol`` with the start of every staffed visit set to the second, lateness minimised.

    Returns ``sol`` itself when seconds cannot help or the model finds nothing better.
    """
    if not sol.start or sol.seconds or not needed(data):
        return sol
    acc = account(data, sol)
    fine = scaled(data, SECONDS)
    seconds = replace(sol, start={v: SECONDS * at for v, at in sol.start.items()})
    m, start, cost = timing_model(fine, seconds, acc.legs, frozenset())
    m.minimize(cost)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.max_deterministic_time = time_limit
    if solver.solve(m) not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return sol
    out = sol.copy()
    out.seconds = {v: int(solver.value(start[v])) for v in sol.start}
    out.start = {v: second // SECONDS for v, second in out.seconds.items()}
    if account(data, out).objective >= acc.objective - 1e-9:
        return sol
    return out
