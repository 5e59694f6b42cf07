"""Fractional travel: starts to the second where whole minutes would cost lateness.

The agency, by hand: Amy lives at ``w-amy``; Ann and Bob are half a minute apart (a matrix of
fractional minutes, as the research instances have). Ann's call is fixed at 08:00 for 10 minutes;
Bob's is due at 08:10 and may start up to an hour late, each late minute costing 5. Amy drives
from Ann's to Bob's in 30 seconds, so Bob's call starts at 08:10:30: half a minute late.

    objective = travel 0.5 x 1 + lateness 0.5 x 5 = 3.0

A model in whole minutes must round the half-minute drive up, start Bob's call at 08:11 and pay
5.5. The whole-period model works in seconds here; the LNS path's rotas are re-timed to the second
(:mod:`solver.retime`), which must also give 3.0 on the construction heuristic's routes.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from solver.contract import Problem
from solver.data import build, scaled
from solver.heuristic import construct
from solver.options import SolveOptions
from solver.retime import retime
from solver.rota import account
from solver.solve import solve
from tests.builders import carer, client, matrix, problem, visit
from tests.helpers import verified

DAY = "2026-11-23"


def agency(drive: float) -> Problem:
    places = ["w-amy", "c-ann", "c-bob"]
    minutes = [[0.0, 3.0, 3.0], [3.0, 0.0, drive], [3.0, drive, 0.0]]
    return problem(
        DAY,
        travel=matrix(places, minutes),
        workers=[carer("w-amy", "07:00", "12:00", DAY)],
        clients=[client(c, 53.8, preferred_workers=["w-amy"]) for c in ("c-ann", "c-bob")],
        visits=[
            visit("v-ann", "c-ann", "08:00", minutes=10, day=DAY),
            visit("v-bob", "c-bob", "08:10", minutes=10, day=DAY, late_allowed_minutes=60),
        ],
    )


def test_the_whole_model_starts_to_the_second() -> None:
    problem = agency(drive=0.5)
    rota = solve(problem, SolveOptions(time_limit=3, seed=0, workers=1))
    report = verified(problem, rota)
    starts = {a.visit: a.start for a in rota.assignments}
    assert starts["v-bob"] == datetime.fromisoformat(f"{DAY}T08:10:30")
    assert report.objective == pytest.approx(3.0)
    assert rota.model_dump(mode="json")["assignments"][1]["start"].endswith("08:10:30")


def test_whole_minutes_stay_whole_when_travel_is() -> None:
    problem = agency(drive=1.0)
    rota = solve(problem, SolveOptions(time_limit=3, seed=0, workers=1))
    report = verified(problem, rota)
    assert {a.visit: a.start for a in rota.assignments}["v-bob"] == datetime.fromisoformat(
        f"{DAY}T08:11"
    )
    assert report.objective == pytest.approx(1.0 + 5.0)  # travel 1, one minute late
    assert rota.status == "optimal"


def test_retiming_recovers_the_seconds_on_fixed_routes() -> None:
    problem = agency(drive=0.5)
    data = build(problem)
    minutes = construct(data)
    assert account(data, minutes).objective == pytest.approx(0.5 + 5 * 1.0)
    seconds = retime(data, minutes)
    assert seconds.seconds == {1: (8 * 60 + 10) * 60 + 30, 0: 8 * 60 * 60}
    assert seconds.workers == minutes.workers  # the routes are kept
    assert account(data, seconds).objective == pytest.approx(3.0)


def test_scaled_data_keeps_the_problems_own_seconds() -> None:
    problem = agency(drive=0.5)
    problem.visits[1].earliest_start = datetime.fromisoformat(f"{DAY}T08:09:15")
    data = build(problem)
    fine = scaled(data, 60)
    assert int(data.earliest[1]) == 8 * 60 + 10  # whole minutes round a window inwards
    assert int(fine.earliest[1]) == (8 * 60 + 9) * 60 + 15
    assert int(fine.travel[0, 1, 2]) == 30
    assert int(fine.duration[0]) == 600
