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

import numpy as np
from ortools.sat.python import cp_model

from solver.data import ProblemData, scaled
from solver.rota import Solution, account

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


def retime(data: ProblemData, sol: Solution, time_limit: float = 2.0, seed: int = 0) -> Solution:
    """``sol`` with the start of every staffed visit set to the second, lateness minimised.

    Returns ``sol`` itself when seconds cannot help or the model finds nothing better.
    """
    if not sol.start or sol.seconds or not needed(data):
        return sol
    acc = account(data, sol)
    fine = scaled(data, SECONDS)
    m = cp_model.CpModel()
    start: dict[int, cp_model.IntVar] = {}
    for v in sol.start:
        last = int(fine.latest[v] + fine.late_allowed[v])
        start[v] = m.new_int_var(int(fine.earliest[v]), last, f"start[{data.visit_ids[v]}]")
        m.add_hint(start[v], SECONDS * sol.start[v])
    for w, legs in acc.legs.items():
        tt = fine.travel[int(data.worker_mode[w])]
        previous = None
        for leg in legs:
            v, h = leg.visit, leg.shift
            m.add(start[v] >= int(fine.shift_start[h]))
            m.add(start[v] + int(fine.duration[v]) <= int(fine.shift_end[h]))
            if previous is not None and previous.shift == h:
                u = previous.visit
                gap = int(tt[data.visit_place(u), data.visit_place(v)])
                m.add(start[v] >= start[u] + int(fine.duration[u]) + gap)
            previous = leg
    for v in sol.start:
        u = int(data.after_visit[v])
        if u >= 0 and u in sol.start:
            m.add(start[v] - start[u] >= int(fine.after_min[v]))
            m.add(start[v] - start[u] <= int(fine.after_max[v]))
    late_terms: list[cp_model.IntVar] = []
    worst = m.new_int_var(0, max(1, int(fine.late_allowed.max())), "max_late")
    for v in sol.start:
        if fine.late_allowed[v] <= 0:
            continue
        late = m.new_int_var(0, int(fine.late_allowed[v]), f"late[{data.visit_ids[v]}]")
        m.add(late >= start[v] - int(fine.latest[v]))
        m.add(worst >= late)
        late_terms.append(late)
    wt = data.weights
    m.minimize(
        round(wt.late_minute * PER_MINUTE) * cp_model.LinearExpr.sum(late_terms)
        + round(wt.max_late_minute * PER_MINUTE) * worst
    )
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
