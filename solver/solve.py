"""The one function the command line and the service call to turn a problem into a rota."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from solver.continuity import add_continuity
from solver.contract import Problem, Rota, Status
from solver.data import ProblemData, build
from solver.heuristic import Builder, construct
from solver.options import Progress, SolveOptions, StopRequest
from solver.reasons import coordinator_details, pinned_contradictions, unstaffed_reasons
from solver.retime import retime
from solver.rota import Solution, account, admissible, solution_of, to_rota

if TYPE_CHECKING:
    from solver.teams import Teams


def finish(data: ProblemData, sol: Solution, status: Status, best_bound: float | None) -> Rota:
    """Write ``sol`` as a rota with reasons for everything it leaves undone."""
    acc = account(data, sol)
    loaded = Builder.loaded(data, sol)
    contradictions = pinned_contradictions(data)
    if contradictions:
        status = "infeasible"
    rota = to_rota(
        data,
        sol,
        status=status,
        reasons=unstaffed_reasons(loaded),
        best_bound=best_bound,
        shortfall_details=coordinator_details(loaded, acc.shortfalls),
        acc=acc,
    )
    rota.violations = contradictions + rota.violations
    return add_continuity(data.problem, rota)


def solve(
    problem: Problem,
    options: SolveOptions | None = None,
    progress: Progress | None = None,
    should_stop: StopRequest | None = None,
    start: Rota | None = None,
) -> Rota:
    """The best rota found for ``problem`` within ``options.time_limit`` seconds.

    ``should_stop`` lets a caller cancel: the search ends within a step (about half a second)
    and the best rota found so far comes back, status ``feasible``.

    ``start`` is a rota to begin from, such as last week's moved on to this week: the route
    engine starts from it where it staffs more, or as many for less, than its own
    constructions (its assignments to visits or workers ``problem`` lacks are dropped, and what
    no longer fits is left to the constructions). The other methods ignore it.
    """
    options = options or SolveOptions()
    started = time.monotonic()
    data = build(problem)
    if options.method == "heuristic":
        return finish(data, construct(data), "feasible", None)
    teams: Teams | None = None
    if options.method == "cpsat":
        built = construct(data)
        from solver.search import optimise  # the CP-SAT import is heavy; the heuristic needs none

        sol, status, bound = optimise(data, built, options, progress, started, should_stop)
    else:
        from solver.engine.run import optimise as run_engine

        if options.teams:
            from solver.teams import care_teams

            # A quarter of the time at most for the care teams, which then guide the engine.
            teams = care_teams(data, min(60.0, 0.25 * options.time_limit), options.seed)
        # A start written for another week or version of the problem may hold assignments
        # this one refuses (a new exclusion, a pin): the engine loads routes as given.
        given = None if start is None else admissible(data, solution_of(data, start))[0]
        sol, status, bound = run_engine(data, options, progress, started, should_stop, teams, given)
    # Seconds for the starts where minutes were too coarse: a small model, a few percent of
    # the time limit at most.
    sol = retime(data, sol, time_limit=min(2.0, 0.05 * options.time_limit), seed=options.seed)
    rota = finish(data, sol, status, bound)
    if teams:
        from solver.teams import as_contract

        rota.teams = as_contract(data, teams)
    return rota
