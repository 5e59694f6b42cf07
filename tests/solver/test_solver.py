"""The heuristic and the CP-SAT optimiser, every rota judged by the independent checker."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from scenarios.generator import SIZES, generate
from solver.contract import Problem
from solver.options import Figures, SolveOptions
from solver.solve import solve
from tests.builders import MONDAY, TUESDAY, carer, client, coordinator, knows, problem, visit
from tests.helpers import verified

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "examples"
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def load(path: Path) -> Problem:
    return Problem.model_validate_json(path.read_text())


def quick(method: str = "cpsat", time_limit: float = 3.0, seed: int = 0) -> SolveOptions:
    return SolveOptions(time_limit=time_limit, seed=seed, workers=1, method=method)


# -- hand-built agencies ------------------------------------------------------------------------


def agency(**changes: Any) -> Problem:
    """One carer, one coordinator, two clients next door, one Monday: the base for rule tests."""
    base: dict[str, Any] = {
        "workers": [
            carer("w-amy", lat=53.80, skills=["medication"], gender="female"),
            coordinator("k-kim", "08:00", "10:00", lat=53.80, skills=[], gender="male"),
        ],
        "clients": [
            client("c-ann", 53.801, coordinator="k-kim"),
            client("c-bob", 53.802),
        ],
        "visits": [
            visit("v-ann", "c-ann", "08:00", "08:30", skills=["medication"]),
            visit("v-bob", "c-bob", "09:00", "09:30"),
        ],
        "history": knows(("w-amy", "c-ann"), day="2026-11-20"),
    }
    return problem(MONDAY, TUESDAY, **(base | changes))


@pytest.fixture
def base_agency() -> Problem:
    """Amy can do both visits; Kim, the coordinator, must see Ann this month (it ends now)."""
    return agency()


def test_coordinator_shadows_when_they_lack_the_skill(base_agency: Problem) -> None:
    # Kim lacks 'medication', so cannot cover Ann's visit; November ends inside the period, so
    # Kim must shadow Amy there (08:00-10:00 shift holds the 08:00-08:30 visit).
    rota = solve(base_agency, quick())
    verified(base_agency, rota)
    assert rota.status == "optimal"
    assert [(c.visit, c.coordinator, c.mode) for c in rota.coordinator_visits] == [
        ("v-ann", "k-kim", "shadow")
    ]
    assert not rota.violations


def test_unavoidable_coordinator_shortfall_is_named(base_agency: Problem) -> None:
    # Kim's only shift (11:00-12:00) misses Ann's 08:00-08:30 window: the rule cannot be met.
    raw = base_agency.model_dump(mode="json")
    raw["workers"][1]["shifts"] = [{"start": "2026-11-23T11:00", "end": "2026-11-23T12:00"}]
    raw["workers"][1]["name"] = "Kim Hart"
    problem = Problem.model_validate(raw)
    rota = solve(problem, quick())
    report = verified(problem, rota)
    assert [(v.coordinator, v.client, v.month) for v in rota.violations] == [
        ("k-kim", "c-ann", "2026-11")
    ]
    # The board shows the detail to coordinators: names, not ids (Ann has no name: her id).
    assert rota.violations[0].detail.startswith(
        "Kim Hart's shifts do not overlap any visit window of c-ann"
    )
    assert report.terms["coordinator_rule"] == problem.weights.coordinator_rule


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # Nobody holds 'catheter'.
        ({"skills": ["catheter"]}, "no worker has skill 'catheter'"),
        # Amy's shift ends 13:00; a 14:00 visit has no one on shift.
        (
            {"earliest_start": "2026-11-23T14:00", "latest_start": "2026-11-23T14:30"},
            "is on shift 14:00-15:00",
        ),
        # Two carers needed; only Amy has 'medication'.
        ({"workers_required": 2}, "only one worker with skill 'medication' (w-amy)"),
    ],
)
def test_unstaffed_reason_names_the_cause(
    base_agency: Problem, change: dict[str, Any], expected: str
) -> None:
    raw = base_agency.model_dump(mode="json")
    raw["visits"][0] |= change
    problem = Problem.model_validate(raw)
    rota = solve(problem, quick())
    verified(problem, rota)
    reasons = {u.visit: u.reason for u in rota.unassigned}
    assert expected in reasons["v-ann"]


def test_gender_preference_is_a_reason(base_agency: Problem) -> None:
    raw = base_agency.model_dump(mode="json")
    # Only Kim is male, and Kim is not working; Amy, on shift, is ruled out.
    raw["clients"][1]["gender_preference"] = "male"
    raw["workers"][1]["shifts"] = []
    problem = Problem.model_validate(raw)
    rota = solve(problem, quick())
    verified(problem, rota)
    assert "gender preference 'male'" in {u.visit: u.reason for u in rota.unassigned}["v-bob"]


def test_busy_worker_is_a_reason(base_agency: Problem) -> None:
    # Both visits start at exactly 08:00 and Kim is off: Amy can only do one of them.
    raw = base_agency.model_dump(mode="json")
    raw["workers"][1]["shifts"] = []
    raw["visits"][1] |= {"earliest_start": "2026-11-23T08:00", "latest_start": "2026-11-23T08:00"}
    raw["visits"][0] |= {"earliest_start": "2026-11-23T08:00", "latest_start": "2026-11-23T08:00"}
    problem = Problem.model_validate(raw)
    rota = solve(problem, quick())
    verified(problem, rota)
    assert len(rota.unassigned) == 1
    assert "busy with other visits" in rota.unassigned[0].reason


def test_double_up_starts_together_and_after_link_holds() -> None:
    # Two carers for Ann at 08:00-08:30; Bob's visit 60..90 minutes after Ann's starts.
    problem = agency(
        workers=[
            {
                "id": f"w-{n}",
                "home": {"lat": 53.80, "lon": -1.55},
                "skills": ["hoist"],
                "shifts": [{"start": "2026-11-23T07:00", "end": "2026-11-23T13:00"}],
            }
            for n in ("amy", "bea", "cal")
        ],
        clients=[
            {"id": "c-ann", "location": {"lat": 53.801, "lon": -1.55}},
            {"id": "c-bob", "location": {"lat": 53.83, "lon": -1.55}},
        ],
        visits=[
            {
                "id": "v-ann",
                "client": "c-ann",
                "earliest_start": "2026-11-23T08:00",
                "latest_start": "2026-11-23T08:30",
                "duration_minutes": 30,
                "workers_required": 2,
                "skills": ["hoist"],
                "pinned_workers": ["w-cal"],
            },
            {
                "id": "v-bob",
                "client": "c-bob",
                "earliest_start": "2026-11-23T08:00",
                "latest_start": "2026-11-23T11:00",
                "duration_minutes": 30,
                "after": {"visit": "v-ann", "min_minutes": 60, "max_minutes": 90},
            },
        ],
        history={},
    )
    rota = solve(problem, quick())
    verified(problem, rota)
    starts = {a.visit: a for a in rota.assignments}
    assert len(starts["v-ann"].workers) == 2 and "w-cal" in starts["v-ann"].workers
    gap = (starts["v-bob"].start - starts["v-ann"].start).total_seconds() / 60
    assert 60 <= gap <= 90


def test_fractional_matrix_travel_is_respected() -> None:
    # 12.5 minutes between the clients: Ann 08:00-08:30, so Bob can start 08:42:30 at the
    # earliest; Bob's window is 08:40-08:42 so a one-carer rota must leave one of them unstaffed.
    ids = ["w-amy", "k-kim", "c-ann", "c-bob"]
    minutes = [[0.0 if i == j else 12.5 for j in range(4)] for i in range(4)]
    problem = agency(
        travel={"model": "matrix", "places": ids, "minutes": minutes},
        visits=[
            {
                "id": "v-ann",
                "client": "c-ann",
                "earliest_start": "2026-11-23T08:00",
                "latest_start": "2026-11-23T08:00",
                "duration_minutes": 30,
            },
            {
                "id": "v-bob",
                "client": "c-bob",
                "earliest_start": "2026-11-23T08:40",
                "latest_start": "2026-11-23T08:42",
                "duration_minutes": 30,
            },
        ],
        clients=[
            {"id": "c-ann", "location": {"lat": 53.801, "lon": -1.55}},
            {"id": "c-bob", "location": {"lat": 53.802, "lon": -1.55}},
        ],
    )
    rota = solve(problem, quick())
    report = verified(problem, rota)
    # Kim (08:00-10:00) takes one of them, Amy the other: both staffed, travel never counted.
    assert report.metrics["visits_assigned"] == 2
    assert {len(a.workers) for a in rota.assignments} == {1}


# -- sample agencies ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny", "small-agency", "dst-week", "medium-agency"])
def test_heuristic_passes_the_checker(name: str) -> None:
    problem = load(EXAMPLES / f"{name}.json")
    verified(problem, solve(problem, quick("heuristic")))


def test_tiny_example_matches_its_readme() -> None:
    problem = load(EXAMPLES / "tiny.json")
    rota = solve(problem, quick())
    verified(problem, rota)
    assert rota.status == "optimal"
    assert rota.best_bound == pytest.approx(rota.objective)
    # Ben's Monday evening double-up: only Bob holds 'hoist' on shift then.
    assert [u.visit for u in rota.unassigned] == ["v-ben-mon-pm"]
    assert "only one worker with skill 'hoist' (Bob)" in rota.unassigned[0].reason
    # November ends on Monday: Kate must see Ann and Ben that day, and does.
    seen = {a.visit for a in rota.assignments if "k-kate" in a.workers}
    seen |= {c.visit for c in rota.coordinator_visits if c.coordinator == "k-kate"}
    assert {"v-ann-mon-am", "v-ben-mon-am"} <= seen
    assert not rota.violations


@pytest.mark.parametrize("name", ["small-agency", "dst-week"])
def test_optimiser_beats_the_heuristic(name: str) -> None:
    problem = load(EXAMPLES / f"{name}.json")
    base = solve(problem, quick("heuristic"))
    seen: list[tuple[float, float, float, Figures | None]] = []

    def progress(e: float, o: float, b: float, figures: Figures | None = None, /) -> None:
        seen.append((e, o, b, figures))

    best = solve(problem, quick(time_limit=8), progress=progress)
    verified(problem, best)
    assert best.objective is not None and base.objective is not None
    assert best.objective < base.objective
    assert best.best_bound is not None and best.best_bound <= best.objective
    objectives = [o for _, o, _, _ in seen]
    assert objectives == sorted(objectives, reverse=True) and len(objectives) >= 2
    # The CP-SAT search reports the best rota so far in words too; its last report is the
    # rota it hands back.
    assert all(f is not None for *_, f in seen)
    last = seen[-1][3]
    assert last is not None and best.metrics is not None
    assert last.visits_staffed == best.metrics.visits_assigned
    assert last.visits_total == len(problem.visits)


def test_same_seed_same_rota() -> None:
    # A deterministic effort, not the wall clock, ends these runs, so a busy machine cannot
    # change the answer; the generous time limit is only a safety net.
    problem = load(SCENARIOS / "small.json")
    options = SolveOptions(time_limit=300, seed=7, workers=1, effort=2.0)
    first, again = solve(problem, options), solve(problem, options)
    verified(problem, first)
    one, two = (json.dumps(r.model_dump(mode="json"), sort_keys=True) for r in (first, again))
    assert one == two, "same seed and effort gave different rotas"


def test_different_seed_still_valid() -> None:
    problem = load(SCENARIOS / "small.json")
    verified(problem, solve(problem, SolveOptions(time_limit=300, seed=8, workers=1, effort=1.0)))


def test_stop_request_ends_the_search_with_its_best_rota() -> None:
    # A caller (the service's cancel) asks to stop after a few steps of a 300 s search: the
    # search ends at once and hands back its best rota, never worse than the heuristic's.
    problem = load(SCENARIOS / "small.json")
    asked = 0

    def stop() -> bool:
        nonlocal asked
        asked += 1
        return asked > 3

    base = solve(problem, quick("heuristic"))
    rota = solve(problem, SolveOptions(time_limit=300, seed=0, workers=1), should_stop=stop)
    verified(problem, rota)
    assert asked == 4
    assert rota.status == "feasible"
    assert rota.objective is not None and base.objective is not None
    assert rota.objective <= base.objective


@pytest.mark.parametrize(("size", "seed"), [("small", 3), ("medium", 3), ("large", 3)])
def test_generated_agencies_of_every_size_pass_the_checker(size: str, seed: int) -> None:
    problem = Problem.model_validate(generate(SIZES[size], seed))
    verified(problem, solve(problem, SolveOptions(time_limit=120, seed=0, workers=1, effort=1.0)))


def test_medium_example_passes_the_checker() -> None:
    problem = load(EXAMPLES / "medium-agency.json")
    verified(problem, solve(problem, SolveOptions(time_limit=120, seed=0, workers=1, effort=1.0)))


def test_what_the_annealing_leaves_unstaffed_is_repaired_into_the_rota(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A short annealing (3,000 moves) on a generated 20-client agency leaves visits unstaffed;
    # the repair that follows makes room for some of them (a route cleared for one may leave
    # another off), and the rota returned holds what it left.
    p = Problem.model_validate(generate(20, seed=4))
    options = SolveOptions(time_limit=60, seed=0, effort=0.0, moves=3000, workers=1)
    with caplog.at_level(logging.INFO, logger="carerota.engine"):
        rota = solve(p, options)
    line = next(r.getMessage() for r in caplog.records if "engine repair" in r.getMessage())
    placed, left, after = map(int, re.findall(r"(\d+) of (\d+) .* (\d+) unstaffed after", line)[0])
    assert placed >= 1
    assert after < left
    report = verified(p, rota)
    assert report.metrics["visits_total"] - report.metrics["visits_assigned"] == after
