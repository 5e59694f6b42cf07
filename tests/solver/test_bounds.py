"""The lower bound: valid (never above a rota's objective) and tight where it can be."""

from __future__ import annotations

from typing import Any

from solver.bounds import lower_bound, most_clients_seen
from solver.contract import Problem
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve
from tests.helpers import verified


def three_at_eight(shift_end: str) -> Problem:
    """Kim, a coordinator, and three of Kim's clients whose only visits all start at 08:00."""
    raw: dict[str, Any] = {
        "timezone": "Europe/London",
        "period": {"start": "2026-11-30", "end": "2026-11-30"},  # November ends: all required
        "workers": [
            {
                "id": "k-kim",
                "role": "coordinator",
                "home": {"lat": 53.80, "lon": -1.55},
                "shifts": [{"start": "2026-11-30T07:30", "end": f"2026-11-30T{shift_end}"}],
            },
        ],
        "clients": [
            {
                "id": f"c-{n}",
                "location": {"lat": 53.80 + i / 100, "lon": -1.55},
                "coordinator": "k-kim",
            }
            for i, n in enumerate(("ann", "bob", "cy"), start=1)
        ],
        "visits": [
            {
                "id": f"v-{n}",
                "client": f"c-{n}",
                "earliest_start": "2026-11-30T08:00",
                "latest_start": "2026-11-30T08:00",
                "duration_minutes": 30,
            }
            for n in ("ann", "bob", "cy")
        ],
    }
    return Problem.model_validate(raw)


def test_coordinator_alone_can_see_one_of_three() -> None:
    # All three visits start at 08:00 sharp: Kim can be at one of them, so at least two of
    # November's three coordinator visits are missing in any rota: floor 2 x 5000.
    data = build(three_at_eight("10:00"))
    assert most_clients_seen(data, data.requirements[0], time_limit=5) == 1
    assert lower_bound(data) == 2 * 5000


def test_no_shift_holds_the_visits() -> None:
    # Kim's shift ends 08:20, before any 30-minute visit from 08:00 can end: nobody can staff
    # them (3 x 10000) and Kim sees no one (3 x 5000).
    data = build(three_at_eight("08:20"))
    assert lower_bound(data) == 3 * 10000 + 3 * 5000


def test_bound_never_exceeds_the_rota() -> None:
    problem = three_at_eight("10:00")
    rota = solve(problem, SolveOptions(time_limit=5, seed=0, workers=1))
    report = verified(problem, rota)
    # Kim covers one visit (60 unfamiliar), two go unstaffed and two coordinator visits miss.
    assert report.objective == 2 * 10000 + 2 * 5000 + 60
    assert rota.best_bound is not None and lower_bound(build(problem)) <= rota.best_bound
    assert rota.status == "optimal" and rota.best_bound == rota.objective
