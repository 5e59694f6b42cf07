"""A solve with the engine doing the volume of the search and CP-SAT the exact parts.

- The engine builds a rota (the better of two constructions) and anneals it.
- Where the whole-period model is small, CP-SAT then solves it whole from the engine's rota as a
  complete hint: it can prove optimality and gives a bound.
- Otherwise CP-SAT's neighbourhood search spends the rest of the time as an intensifier around
  unstaffed visits, clients and coordinators, starting from the engine's rota; it only ever
  keeps a rota at least as good.

Effort: the engine's part is counted in move evaluations (:func:`~solver.options.engine_moves`),
CP-SAT's in deterministic time; the wall clock only ends a run early on a machine much slower or
busier than this one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from solver.bounds import lower_bound
from solver.contract import Status
from solver.data import ProblemData, scaled
from solver.engine.search import Engine
from solver.options import DTIME_PER_SECOND, Progress, SolveOptions, StopRequest, engine_moves
from solver.rota import Solution, account, figures
from solver.teams import Teams

log = logging.getLogger("carerota.engine")

# Share of the time limit the engine takes before CP-SAT, whether CP-SAT then works on
# neighbourhoods or takes the whole model. The whole model had 70% until 2026-12-07, and on
# Mankowska B it never improved the engine's rota; with the engine at 85%, B's mean gap over
# four seeds went from +0.31% to -0.03% (benchmarks/results/engine_share_whole.md).
ENGINE_SHARE_LNS = 0.85
ENGINE_SHARE_WHOLE = 0.85
# Unstaffed visits the repair after the annealing takes between two looks at the clock.
REPAIR_SLICE = 16
# Times during the annealing that room is made for what the best rota leaves unstaffed.
REPAIRS = 4
# Steps a minute where travel is fractional: the engine then works in seconds.
SECONDS = 60
# A coordinator's progress figures (visits staffed, travel...) cost a pass over the rota: the
# engine reports a new best at most this often.
FIGURES_SECONDS = 2.0


def engine_units(data: ProblemData) -> ProblemData:
    """``data`` in the engine's time steps: seconds where some travel is fractional (whole
    minutes would round each leg up), else ``data`` itself."""
    if np.any(data.travel_exact != np.floor(data.travel_exact)):
        return scaled(data, SECONDS)
    return data


# A team member's pull on an insertion, as a share of what a new face costs (the primary carer
# pulls fully, the others at TEAM_OTHERS of it); it fades to nothing over the annealing.
TEAM_PULL = 0.5
TEAM_OTHERS = 0.6


def team_pull(data: ProblemData, teams: Teams) -> np.ndarray:
    """The engine's ``team_bonus``: per client and worker, the pull of the client's care team."""
    wt = data.weights
    face = wt.distinct_worker + wt.unfamiliar_worker + wt.face_travel_minutes * wt.travel_minute
    pull = np.zeros((data.n_clients, data.n_workers), dtype=np.float64)
    for c, workers in teams.items():
        for i, w in enumerate(workers):
            pull[c, w] = TEAM_PULL * face * (1.0 if i == 0 else TEAM_OTHERS)
    return pull


def to_minutes(sol: Solution, unit: int) -> Solution:
    """A solution in ``unit`` steps a minute as whole minutes, with its seconds kept."""
    if unit == 1:
        return sol
    out = sol.copy()
    out.start = {v: s // unit for v, s in sol.start.items()}
    out.seconds = {v: s * SECONDS // unit for v, s in sol.start.items()}
    return out


def to_units(sol: Solution, unit: int) -> Solution:
    """A solution in whole minutes in ``unit`` steps a minute (the engine's clock)."""
    if unit == 1:
        return sol
    out = sol.copy()
    out.start = {v: s * unit for v, s in sol.start.items()}
    out.seconds = {}
    return out


def optimise(
    data: ProblemData,
    options: SolveOptions,
    progress: Progress | None = None,
    started: float | None = None,
    should_stop: StopRequest | None = None,
    teams: Teams | None = None,
    start: Solution | None = None,
) -> tuple[Solution, Status, float | None]:
    """The best rota found for ``data`` within ``options``' effort and time limit; ``teams``
    (each client's care team, primary carer first) guide where the engine places visits, and
    the search begins from ``start`` where that beats the constructions."""
    from solver.search import FULL_MODEL_ARCS, Search, estimated_arcs

    t0 = time.monotonic() if started is None else started
    work = engine_units(data)
    fractional = work is not data
    engine = Engine(work, team_pull(data, teams) if teams else None)
    engine.construct(None if start is None else to_units(start, work.unit))
    constructed = engine.objective

    # The floor the progress reports carry (visits nobody can staff, coordinator visits nobody
    # could make), as the CP-SAT search computes it; a twentieth of the time at most.
    share_bound = 0.05 * options.time_limit / max(1, len(data.requirements))
    bound = lower_bound(data, time_limit=min(0.5, share_bound))

    reported = [-float("inf")]  # when figures were last built

    def improved(objective: float, best: Callable[[], Solution]) -> None:
        if progress is None:
            return
        now = time.monotonic()
        if now - reported[0] < FIGURES_SECONDS:
            return  # the next report (or the rota itself) carries this one's gain
        reported[0] = now
        sol = to_minutes(best(), work.unit)
        progress(now - t0, objective, bound, figures(data, sol, account(data, sol)))

    improved(engine.objective, engine.solution)
    whole = (
        estimated_arcs(data, list(range(data.n_visits)), set(range(data.n_workers)))
        <= FULL_MODEL_ARCS
    )
    share = ENGINE_SHARE_WHOLE if whole else ENGINE_SHARE_LNS
    total = engine_moves(options)
    sol = engine.anneal(
        max(1, int(total * share)),
        options.seed,
        walkers=max(1, options.workers),
        deadline=t0 + share * options.time_limit,
        should_stop=should_stop,
        improved=improved,
        repairs=REPAIRS,
    )
    engine.log_stats(constructed, detail=options.log)
    # Room made in a fixed order for what the annealing left unstaffed: its chains clear one
    # random route at a time, so a double-up that needs two routes cleared at once is rarely
    # staffed that way. The repair keeps only what lowers the objective.
    left = engine.unstaffed_by_deadline()
    if left and not engine.stopped:
        placed = 0
        # In slices, so that an agency with hundreds of visits nobody can staff stops at the
        # time limit (each try makes room on up to two routes and reschedules them).
        for i in range(0, len(left), REPAIR_SLICE):
            if time.monotonic() >= t0 + options.time_limit:
                break
            placed += engine.repair(left[i : i + REPAIR_SLICE], clear=True)
        # A route cleared for one visit may leave one it took off unstaffed (kept only if the
        # objective says so): what is left is counted, not inferred from what was placed.
        log.info("engine repair: %d of %d unstaffed visits staffed, %d unstaffed after, %.0f",
                 placed, len(left), engine.unstaffed, engine.objective)  # fmt: skip
        if placed:
            sol = engine.solution()
    best = to_minutes(sol, work.unit)
    remaining = options.time_limit - (time.monotonic() - t0)
    if remaining < 1.0 or engine.stopped:
        return best, "feasible", bound
    if fractional and not whole:
        # CP-SAT's neighbourhoods work in whole minutes around fixed visits, which this rota
        # times to the second: its answers would mix the two (Mankowska D1 came back with
        # overlaps). The whole model works in seconds; the neighbourhoods are not used here.
        return best, "feasible", bound
    # CP-SAT's share of the effort, in its deterministic time; the clock still runs from t0.
    effort = options.effort if options.effort is not None else options.time_limit * DTIME_PER_SECOND
    rest = replace(options, effort=effort * (1 - share))
    search = Search(data, rest, progress, t0, should_stop)
    out, status, found = search.run(best)
    bound = bound if found is None else max(bound, found)
    annealed, intensified = account(data, best).objective, account(data, out).objective
    log.info("CP-SAT after the engine: %.0f from %.0f (%s)", intensified, annealed, status)
    if intensified <= annealed:
        best = out
    else:
        status = "feasible"
    return best, status, bound
