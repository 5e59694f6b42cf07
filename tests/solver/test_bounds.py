"""The lower bound: valid (never above a rota's objective) and tight where it can be."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scenarios.generator import generate
from solver.bounds import faces_floor, familiar_ceiling, lower_bound, most_clients_seen
from solver.continuity import measure
from solver.contract import Problem, Rota
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve
from tests.builders import ANN, MONTH_END, at, carer, client, knows, place, problem, visit
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


def ann_three_times(window_end: str) -> Problem:
    """Ann three times on Monday morning, 30 minutes each, starting 08:00 to ``window_end``;
    Amy and Bea both free 07:00-13:00 and able."""
    return problem(
        "2026-11-23",
        workers=[carer("w-amy"), carer("w-bea")],
        clients=[client("c-ann", ANN)],
        visits=[visit(f"v-{i}", "c-ann", "08:00", window_end) for i in range(3)],
    )


def faces(rota: Rota) -> int:
    return len({w for a in rota.assignments for w in a.workers})


@pytest.mark.parametrize(("window_end", "fewest"), [("08:30", 2), ("09:00", 1)])
def test_faces_floor_counts_what_one_carer_has_time_for(window_end: str, fewest: int) -> None:
    # Starts 08:00-08:30: the three visits lie within 08:00-09:00 and hold 90 minutes, so one
    # carer does two at most and Ann sees two faces, though either carer alone is "available"
    # for all three. Starts to 09:00 leave 08:00-09:30 for 90 minutes: one carer will do.
    prob = ann_three_times(window_end)
    floor = faces_floor(build(prob), staffed=3, time_limit=10)
    assert (floor.bound, floor.faces, floor.client_weeks) == (fewest, fewest, 1)
    rota = solve(prob, SolveOptions(time_limit=5, seed=0, workers=1))
    verified(prob, rota)
    assert len(rota.assignments) == 3 and faces(rota) == fewest


def test_faces_floor_counts_pairs_that_fit_in_neither_order() -> None:
    # Two 60-minute visits both starting 08:00-08:30: no carer does both, whatever the order.
    prob = problem(
        "2026-11-23",
        workers=[carer("w-amy"), carer("w-bea")],
        clients=[client("c-ann", ANN)],
        visits=[visit(f"v-{i}", "c-ann", "08:00", "08:30", minutes=60) for i in range(2)],
    )
    assert faces_floor(build(prob), staffed=2, time_limit=10).bound == 2
    # Staffing one of them is allowed a single face.
    assert faces_floor(build(prob), staffed=1, time_limit=10).bound == 1


def test_faces_floor_never_exceeds_a_rotas_faces() -> None:
    # A generated agency: the engine's rota is a plan of the relaxation, so its faces (per
    # client-week, shadows left out) are at least the floor proven for its staffing.
    prob = Problem.model_validate(generate(12, 3))
    rota = solve(prob, SolveOptions(time_limit=20, seed=0, workers=1, effort=2))
    verified(prob, rota)
    data = build(prob)
    floor = faces_floor(data, len(rota.assignments), time_limit=20)
    client_of = {v.id: v.client for v in prob.visits}
    seen = {(client_of[a.visit], w) for a in rota.assignments for w in a.workers}
    assert prob.period.end - prob.period.start < timedelta(days=7)  # one week: client-weeks
    assert 0 < floor.bound <= len(seen)
    assert floor.client_weeks == len({c for c, _ in seen})


def test_familiar_ceiling_counts_one_carer_once_at_a_time() -> None:
    # Amy knows Ann and Cy, whose hour-long visits both start 08:00-08:30 across town: she can
    # take one of them. The ceiling of the continuity measures counts her for both slots.
    prob = problem(
        "2026-11-23",
        workers=[carer("w-amy"), carer("w-bea")],
        clients=[client("c-ann", ANN), client("c-cy", ANN + 0.05)],
        visits=[visit(f"v-{c}", f"c-{c}", "08:00", "08:30", minutes=60) for c in ("ann", "cy")],
        history=knows(("w-amy", "c-ann"), ("w-amy", "c-cy")),
    )
    ceiling = familiar_ceiling(build(prob), time_limit=10)
    assert (ceiling.slots, ceiling.best, ceiling.bound, ceiling.share) == (2, 1, 1, 0.5)
    rota = solve(prob, SolveOptions(time_limit=5, seed=0, workers=1))
    verified(prob, rota)
    assert len(rota.assignments) == 2
    assert measure(prob, rota).familiar_ceiling == 1.0
    assert measure(prob, rota).familiar_share == 0.5


def test_familiar_ceiling_is_never_below_a_rotas_familiar_slots() -> None:
    # A generated agency with history: the rota's familiar slots are a plan of the relaxation.
    prob = Problem.model_validate(generate(12, 3))
    rota = solve(prob, SolveOptions(time_limit=20, seed=0, workers=1, effort=2))
    verified(prob, rota)
    data = build(prob)
    worker = {w: i for i, w in enumerate(data.worker_ids)}
    client_of = {v.id: data.client_ids.index(v.client) for v in prob.visits}
    familiar = sum(
        bool(data.familiar[client_of[a.visit], worker[w]])
        for a in rota.assignments
        for w in a.workers
    )
    ceiling = familiar_ceiling(data, time_limit=20)
    assert familiar > 0
    assert familiar <= ceiling.bound <= ceiling.slots
    assert ceiling.share < measure(prob, rota).familiar_ceiling
