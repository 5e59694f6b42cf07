"""The care-team model on agencies small enough to check by hand."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from solver.contract import DayPart, Problem
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve
from solver.teams import (
    DAY_PARTS,
    TeamOptions,
    as_contract,
    care_teams,
    options_for,
    part_of,
    plan_teams,
)

DAY = "2026-11-30"


def _worker(ident: str, lat: float, *, skills: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": ident,
        "home": {"lat": lat, "lon": -1.55},
        "skills": skills or [],
        "shifts": [{"start": f"{DAY}T07:00", "end": f"{DAY}T10:00"}],
    }


def _visit(
    ident: str, *, required: int = 1, minutes: int = 60, skills: list[str] | None = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "client": "c1",
        "earliest_start": f"{DAY}T07:00",
        "latest_start": f"{DAY}T09:00",
        "duration_minutes": minutes,
        "workers_required": required,
        "skills": skills or [],
    }


def _problem(workers: list[dict[str, Any]], visits: list[dict[str, Any]], **client: Any) -> Problem:
    return Problem.model_validate(
        {
            "timezone": "Europe/London",
            "period": {"start": DAY, "end": DAY},
            "workers": workers,
            "clients": [{"id": "c1", "location": {"lat": 53.80, "lon": -1.55}, **client}],
            "visits": visits,
            "history": {
                "visits": [
                    {"client": "c1", "worker": w["id"], "date": "2026-11-20"}
                    for w in workers
                    if w["id"].startswith("known")
                ]
            },
        }
    )


def _team(problem: Problem) -> list[str]:
    data = build(problem)
    teams = care_teams(data, time_limit=2.0, seed=0)
    return [data.worker_ids[w] for w in teams.get(0, [])]


def test_day_parts_follow_the_clock() -> None:
    assert [part_of(m, DAY_PARTS) for m in (7 * 60, 12 * 60, 17 * 60, 20 * 60, 23 * 60)] == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert part_of(3 * 60, DAY_PARTS) == 4  # 03:00 is before the morning: the night


def test_a_client_only_two_carers_can_cover_gets_those_two() -> None:
    # Two double-ups with a hoist: only the two hoist carers qualify, so both are in the team
    # although the others live nearer and one of them is familiar.
    workers = [
        _worker("known-a", 53.80),
        _worker("near-b", 53.801),
        _worker("hoist-1", 53.83, skills=["hoist"]),
        _worker("hoist-2", 53.84, skills=["hoist"]),
    ]
    visits = [_visit(f"v{i}", required=2, minutes=30, skills=["hoist"]) for i in range(2)]
    assert sorted(_team(_problem(workers, visits))) == ["hoist-1", "hoist-2"]


def test_one_carer_suffices_when_capacity_allows() -> None:
    # 2 x 60 minutes = 8 units; a 07:00-10:00 shift less 20% travel holds 144 minutes = 9 units.
    workers = [_worker("known-a", 53.81), _worker("near-b", 53.80)]
    visits = [_visit(f"v{i}") for i in range(2)]
    assert _team(_problem(workers, visits)) == ["known-a"]


def test_capacity_forces_a_third_carer() -> None:
    # 5 x 60 = 300 minutes = 20 units; each familiar carer holds 9 units (144 minutes), so two
    # cover 18 and the third (unfamiliar, dearer) takes the remaining 2.
    workers = [_worker("known-a", 53.80), _worker("known-b", 53.80), _worker("new-c", 53.81)]
    visits = [_visit(f"v{i}") for i in range(5)]
    data = build(_problem(workers, visits))
    plan = plan_teams(data, time_limit=2.0, seed=0)
    names = [data.worker_ids[w] for w in plan.teams[0]]
    assert sorted(names[:2]) == ["known-a", "known-b"]  # the primary carers carry the most
    assert names[2] == "new-c"
    assert plan.uncovered_minutes == 0
    assert plan.minutes[(0, 2)] == 2 * 15


def test_an_excluded_carer_never_joins_a_team() -> None:
    # known-a is familiar and nearest, but the client excludes them.
    workers = [_worker("known-a", 53.80), _worker("far-b", 53.83), _worker("far-c", 53.84)]
    visits = [_visit(f"v{i}") for i in range(5)]
    team = _team(_problem(workers, visits, excluded_workers=["known-a"]))
    assert "known-a" not in team
    assert sorted(team) == ["far-b", "far-c"]


def test_a_pinned_carer_is_in_the_team() -> None:
    # far-b must do v1 anyway, and has room for v0 too: one face beats the familiar carer.
    workers = [_worker("known-a", 53.80), _worker("far-b", 53.83)]
    visits = [_visit("v0"), {**_visit("v1"), "pinned_workers": ["far-b"]}]
    assert _team(_problem(workers, visits)) == ["far-b"]


def test_a_hard_faces_cap_leaves_demand_uncovered_rather_than_add_a_face() -> None:
    workers = [_worker("known-a", 53.80), _worker("known-b", 53.80), _worker("new-c", 53.81)]
    visits = [_visit(f"v{i}") for i in range(5)]
    data = build(_problem(workers, visits))
    plan = plan_teams(data, 2.0, 0, TeamOptions(faces_cap=2, cap_hard=True))
    assert len(plan.teams[0]) == 2
    assert plan.uncovered_minutes == 2 * 15


def test_the_run_sheet_names_the_clients_regular_team() -> None:
    from api.documents import run_sheets, runsheet_html

    workers = [
        {**_worker("known-a", 53.80), "name": "Amy"},
        {**_worker("known-b", 53.80), "name": "Bob"},
    ]
    problem = _problem(workers, [_visit("v0", required=2, minutes=30)])
    data = build(problem)
    rota = solve(problem, SolveOptions(time_limit=2, method="heuristic"))
    rota.teams = as_contract(data, care_teams(data, time_limit=2.0, seed=0))
    assert [(t.client, sorted(t.workers)) for t in rota.teams] == [("c1", ["known-a", "known-b"])]
    page = runsheet_html([run_sheets(problem, rota)["known-a"]])
    assert "Regular team: Amy, Bob" in page or "Regular team: Bob, Amy" in page


def test_an_agency_names_its_own_day_parts() -> None:
    workers = [_worker("known-a", 53.80)]
    problem = _problem(workers, [_visit("v0")]).model_copy(
        update={
            "day_parts": [DayPart(name="early", start="05:30"), DayPart(name="rest", start="12:00")]
        }
    )
    assert [(p.name, p.minute) for p in options_for(problem).parts] == [
        ("early", 5 * 60 + 30),
        ("rest", 12 * 60),
    ]
    assert options_for(_problem(workers, [_visit("v0")])).parts == DAY_PARTS


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([{"name": "a", "start": "7:00"}], "'7:00' is not a time of day of the form HH:MM"),
        (
            [{"name": "a", "start": "12:00"}, {"name": "b", "start": "08:00"}],
            "day part 'b' starts at 08:00, not after 'a' at 12:00",
        ),
        (
            [{"name": "a", "start": "08:00"}, {"name": "a", "start": "12:00"}],
            "day part 'a' is named twice",
        ),
    ],
)
def test_day_parts_out_of_order_are_refused(parts: list[dict[str, str]], message: str) -> None:
    raw = _problem([_worker("known-a", 53.80)], [_visit("v0")]).model_dump(mode="json")
    with pytest.raises(ValidationError, match=message) as caught:
        Problem.model_validate({**raw, "day_parts": parts})
    assert caught.value.errors()[0]["loc"][0] == "day_parts"


def test_the_travel_a_face_is_worth_buys_a_smaller_team() -> None:
    # Two familiar carers on 07:00-08:30 hold 90 x 0.8 = 72 minutes = 4 units each; the 2 x 60
    # minutes (8 units) need both, at 30 + 30 = 60. One unfamiliar carer on 07:00-10:00 holds
    # 9 units alone, at 30 + 60 = 90. With a face worth 100 travel minutes more, the pair costs
    # 2 x 130 = 260 and the stranger 130 + 60 = 190.
    short = {"shifts": [{"start": f"{DAY}T07:00", "end": f"{DAY}T08:30"}]}
    workers = [
        {**_worker("known-a", 53.80), **short},
        {**_worker("known-b", 53.80), **short},
        _worker("new-c", 53.80),
    ]
    visits = [{**_visit(f"v{i}"), "latest_start": f"{DAY}T07:30"} for i in range(2)]
    problem = _problem(workers, visits)
    assert sorted(_team(problem)) == ["known-a", "known-b"]
    priced = problem.model_copy(
        update={"weights": problem.weights.model_copy(update={"face_travel_minutes": 100})}
    )
    assert _team(priced) == ["new-c"]
