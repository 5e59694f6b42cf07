"""The lower bound: valid (never above a rota's objective) and tight where it can be."""

from __future__ import annotations

from solver.bounds import lower_bound, most_clients_seen
from solver.contract import Problem
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve
from tests.builders import MONTH_END, at, client, place, problem, visit
from tests.helpers import verified


def three_at_eight(shift_end: str) -> Problem:
    """Kim, a coordinator, and three of Kim's clients whose only visits all start at 08:00."""
    names = ("ann", "bob", "cy")
    return problem(
        MONTH_END,  # November ends: every coordinator visit is required
        workers=[
            {
                "id": "k-kim",
                "role": "coordinator",
                "home": place(53.80),
                "shifts": [{"start": at("07:30", MONTH_END), "end": at(shift_end, MONTH_END)}],
            }
        ],
        clients=[
            client(f"c-{n}", 53.80 + i / 100, coordinator="k-kim")
            for i, n in enumerate(names, start=1)
        ],
        visits=[visit(f"v-{n}", f"c-{n}", "08:00", day=MONTH_END) for n in names],
    )


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
