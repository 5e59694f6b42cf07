"""Property: every rota either method returns for a valid agency passes the independent checker.

Hypothesis draws small synthetic agencies from the seeded generator (3-12 clients over 1-3 days),
starting on ordinary days, on the Saturday before British Summer Time ends (2026-10-25, a day of
25 hours) and on 29 November (November ends inside the period, December is paced), and perturbs
the weights and the lateness allowed. Whatever comes back must keep rules 1-5, account for every
visit once, and state the objective the checker recomputes from the rota alone.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios.generator import generate
from solver.contract import Problem
from solver.options import SolveOptions
from solver.solve import solve
from tests.helpers import verified

STARTS = [date(2026, 10, 24), date(2026, 11, 29), date(2026, 11, 23), date(2026, 12, 7)]


@st.composite
def agencies(draw: st.DrawFn) -> Problem:
    """A small generated agency, its weights and lateness perturbed."""
    clients = draw(st.integers(3, 12), label="clients")
    seed = draw(st.integers(0, 10_000), label="seed")
    start = draw(st.sampled_from(STARTS), label="start")
    days = draw(st.integers(1, 3), label="days")
    raw: dict[str, Any] = generate(clients, seed, start=start, days=days)
    raw["weights"] = {
        "home_travel_minute": draw(st.sampled_from([0, 0.5, 1])),
        "late_minute": draw(st.sampled_from([0, 5, 20])),
        "max_late_minute": draw(st.sampled_from([0, 10])),
        "contract_shortfall_minute": draw(st.sampled_from([0, 0.1])),
        "distinct_worker": draw(st.sampled_from([0, 30])),
    }
    grace = draw(st.sampled_from([0, 0, 15]), label="late_allowed_minutes")
    if grace:
        for v in raw["visits"][::3]:
            v["late_allowed_minutes"] = grace
    return Problem.model_validate(raw)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=agencies())
def test_every_rota_passes_the_checker(problem: Problem) -> None:
    quick = SolveOptions(time_limit=1, seed=0, workers=1, method="heuristic")
    base = solve(problem, quick)
    verified(problem, base)
    best = solve(problem, SolveOptions(time_limit=1, seed=0, workers=1, method="cpsat"))
    report = verified(problem, best)
    assert best.objective is not None and base.objective is not None
    # The optimiser starts from the heuristic's rota and only ever accepts no-worse ones.
    assert best.objective <= base.objective + 1e-6
    if best.best_bound is not None:
        assert best.best_bound <= report.objective + 1e-6
    if best.status == "optimal":
        assert best.best_bound == pytest.approx(best.objective, abs=0.01)


def test_generator_copes_with_a_three_client_day() -> None:
    Problem.model_validate(generate(3, 9, start=date(2026, 11, 23), days=1))
