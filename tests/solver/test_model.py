"""The CP-SAT model on its own: for each rule, a rota it accepts and one it refuses.

No search here. Each test writes a rota by hand (who does which visit when), gives it to the
whole-period model as its hint and fixes every variable to the hint: CP-SAT then answers
``OPTIMAL`` when the model accepts that rota and ``INFEASIBLE`` when a constraint refuses it.
The agencies are ``tests.builders``' (Monday 23 November, places on one meridian, Ann 3 minutes
from the carers' homes, Bob 9 minutes from Ann). The last tests check the hint itself (complete
and feasible, as CP-SAT's log says) and that a term whose weight is zero builds no variables.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from ortools.sat.python import cp_model

from solver.contract import Problem
from solver.data import ProblemData, build
from solver.heuristic import construct
from solver.model import Neighbourhood, RotaModel
from solver.rota import Solution, account, to_rota
from tests.builders import (
    ANN,
    BOB,
    agency,
    carer,
    client,
    coordinator,
    every_term_bites,
    knows,
    twice_at_ann,
    visit,
    when,
)
from tests.helpers import verified

# A crew by hand: visit id -> (start, worker ids); the start is HH:MM on Monday 23 November, or
# a whole local date and time.
Crews = dict[str, tuple[str, list[str]]]


def whole(data: ProblemData) -> Neighbourhood:
    return Neighbourhood(frozenset(range(data.n_visits)), frozenset(range(data.n_workers)))


def solution(
    data: ProblemData, crews: Crews, shadows: dict[str, list[str]] | None = None
) -> Solution:
    """``crews`` (and coordinators shadowing) as the solver's indices and minutes."""
    visit_index = {ident: v for v, ident in enumerate(data.visit_ids)}
    worker_index = {ident: w for w, ident in enumerate(data.worker_ids)}
    sol = Solution()
    for ident, (hhmm, workers) in crews.items():
        v = visit_index[ident]
        moment = datetime.fromisoformat(hhmm) if "T" in hhmm else when(hhmm)
        sol.start[v] = int(data.clock.seconds(moment)) * data.unit // 60
        sol.workers[v] = [worker_index[w] for w in workers]
    for ident, coordinators in (shadows or {}).items():
        sol.shadows[visit_index[ident]] = [worker_index[k] for k in coordinators]
    return sol


def fixed_to(
    problem: Problem, crews: Crews, shadows: dict[str, list[str]] | None = None
) -> tuple[str, float]:
    """CP-SAT's verdict on the whole model with every variable fixed to this rota, and the
    model's objective (in the contract's units) when it accepts it."""
    data = build(problem)
    sol = solution(data, crews, shadows)
    model = RotaModel(data, sol, whole(data))
    model.hint(sol)
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10
    status = solver.status_name(solver.solve(model.model))
    objective = solver.objective_value / model.scale if status == "OPTIMAL" else float("nan")
    return status, objective


def hint_log(data: ProblemData, sol: Solution) -> str:
    """CP-SAT's log of a short solve of the whole model hinted with ``sol``."""
    model = RotaModel(data, sol, whole(data))
    model.hint(sol)
    lines: list[str] = []
    solver = cp_model.CpSolver()
    solver.parameters.log_search_progress = True
    solver.parameters.log_to_stdout = False
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 1
    solver.log_callback = lines.append
    solver.solve(model.model)
    return "\n".join(lines)


# -- rule 1: the full crew or none ---------------------------------------------------------------


def double_up() -> Problem:
    """Amy and Bea, both familiar to Ann; Ann's 08:00 visit needs two carers."""
    return agency(
        workers=[carer("w-amy"), carer("w-bea")],
        visits=[visit("v-ann", "c-ann", "08:00", workers_required=2)],
        history=knows(("w-amy", "c-ann"), ("w-bea", "c-ann")),
    )


def test_a_double_up_takes_both_carers() -> None:
    # Both on it: the only cost is Ann's second face (distinct_worker 30).
    assert fixed_to(double_up(), {"v-ann": ("08:00", ["w-amy", "w-bea"])}) == ("OPTIMAL", 30)


def test_a_double_up_with_one_carer_is_refused() -> None:
    assert fixed_to(double_up(), {"v-ann": ("08:00", ["w-amy"])})[0] == "INFEASIBLE"


def test_a_pinned_carer_must_be_on_the_visit() -> None:
    pinned = agency(
        workers=[carer("w-amy"), carer("w-bea")],
        visits=[visit("v-ann", "c-ann", "08:00", pinned_workers=["w-bea"])],
    )
    # Bea is unfamiliar to Ann (unfamiliar_worker 60) but pinned: only she may go.
    assert fixed_to(pinned, {"v-ann": ("08:00", ["w-bea"])}) == ("OPTIMAL", 60)
    assert fixed_to(pinned, {"v-ann": ("08:00", ["w-amy"])})[0] == "INFEASIBLE"


# -- rule 2: the window, and one visit after another ---------------------------------------------


def test_a_start_inside_the_window_is_accepted_and_one_after_it_refused() -> None:
    window = agency(visits=[visit("v-ann", "c-ann", "08:00", "08:30")])
    assert fixed_to(window, {"v-ann": ("08:30", ["w-amy"])}) == ("OPTIMAL", 0)
    assert fixed_to(window, {"v-ann": ("08:31", ["w-amy"])})[0] == "INFEASIBLE"


def test_allowed_lateness_is_accepted_and_priced() -> None:
    # 15 minutes past the window, within the 30 allowed: 15 x late_minute 5 = 75.
    late = agency(visits=[visit("v-ann", "c-ann", "08:00", late_allowed_minutes=30)])
    assert fixed_to(late, {"v-ann": ("08:15", ["w-amy"])}) == ("OPTIMAL", 75)
    assert fixed_to(late, {"v-ann": ("08:31", ["w-amy"])})[0] == "INFEASIBLE"


def test_a_visit_after_another_keeps_its_gap() -> None:
    # Ann's lunch starts 60-120 minutes after her breakfast (both Amy's, 30 minutes each).
    meals = agency(
        visits=[
            visit("v-breakfast", "c-ann", "08:00"),
            visit(
                "v-lunch",
                "c-ann",
                "08:30",
                "11:00",
                after={"visit": "v-breakfast", "min_minutes": 60, "max_minutes": 120},
            ),
        ]
    )
    breakfast = {"v-breakfast": ("08:00", ["w-amy"])}
    assert fixed_to(meals, breakfast | {"v-lunch": ("09:30", ["w-amy"])})[0] == "OPTIMAL"
    assert fixed_to(meals, breakfast | {"v-lunch": ("08:45", ["w-amy"])})[0] == "INFEASIBLE"
    assert fixed_to(meals, breakfast | {"v-lunch": ("10:01", ["w-amy"])})[0] == "INFEASIBLE"


def test_distinct_workers_refuses_one_carer_on_both_visits() -> None:
    # Amy on both: 6 without the flag, refused with it; Bea on the second: 94 (as worked out
    # in twice_at_ann).
    amy = {"v-first": ("08:00", ["w-amy"]), "v-second": ("08:30", ["w-amy"])}
    bea = amy | {"v-second": ("08:30", ["w-bea"])}
    assert fixed_to(twice_at_ann(False), amy) == ("OPTIMAL", 6)
    assert fixed_to(twice_at_ann(True), amy)[0] == "INFEASIBLE"
    assert fixed_to(twice_at_ann(True), bea) == ("OPTIMAL", 94)


@pytest.mark.parametrize("amy_on", ["v-first", "v-second"])
def test_distinct_workers_keeps_a_free_visit_from_a_fixed_ones_crew(amy_on: str) -> None:
    # Only the other visit is free; Amy's fixed visit closes it to her, whichever end it is.
    data = build(twice_at_ann(True))
    free = "v-second" if amy_on == "v-first" else "v-first"
    times = {"v-first": "08:00", "v-second": "08:30"}
    hood = Neighbourhood(frozenset([data.visit_ids.index(free)]), frozenset(range(data.n_workers)))
    verdicts = []
    for who in ("w-amy", "w-bea"):
        sol = solution(data, {amy_on: (times[amy_on], ["w-amy"]), free: (times[free], [who])})
        model = RotaModel(data, sol, hood)
        model.hint(sol)
        solver = cp_model.CpSolver()
        solver.parameters.fix_variables_to_their_hinted_value = True
        solver.parameters.num_workers = 1
        verdicts.append(solver.status_name(solver.solve(model.model)))
    assert verdicts == ["INFEASIBLE", "OPTIMAL"]


@pytest.mark.parametrize("distinct", [False, True])
def test_the_whole_model_splits_linked_visits_only_when_asked(distinct: bool) -> None:
    # Solved freely from the construction's rota: the optimum is Amy on both (6) without the
    # flag, and one visit each (94) with it.
    problem = twice_at_ann(distinct)
    data = build(problem)
    start = construct(data)
    model = RotaModel(data, start, whole(data))
    model.hint(start)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10
    assert solver.solve(model.model) == cp_model.OPTIMAL
    sol = model.read(solver)
    report = verified(problem, to_rota(data, sol, status="optimal", reasons={}))
    crews = {data.visit_ids[v]: [data.worker_ids[w] for w in ws] for v, ws in sol.workers.items()}
    if distinct:
        assert sorted(crews["v-first"] + crews["v-second"]) == ["w-amy", "w-bea"]
        assert report.objective == pytest.approx(94)
    else:
        assert crews == {"v-first": ["w-amy"], "v-second": ["w-amy"]}
        assert report.objective == pytest.approx(6)


# -- rule 3: who may do a visit, and within their shift -----------------------------------------


def test_only_a_carer_with_the_skill_has_a_literal() -> None:
    skilled = agency(
        workers=[carer("w-amy", skills=["hoist"]), carer("w-bea")],
        visits=[visit("v-ann", "c-ann", "08:00", skills=["hoist"])],
    )
    data = build(skilled)
    model = RotaModel(data, construct(data), whole(data))
    amy, bea = data.worker_ids.index("w-amy"), data.worker_ids.index("w-bea")
    assert model.vars.assigned(0, amy) is not None
    assert model.vars.assigned(0, bea) is None  # the model cannot even say Bea does it
    assert [w for w, _ in model.vars.crew(0)] == [amy]


def test_a_visit_must_end_within_the_shift() -> None:
    # Amy's shift is 07:00-09:00: a 30-minute visit may start at 08:30 at the latest.
    short_shift = agency(
        workers=[carer("w-amy", "07:00", "09:00")],
        visits=[visit("v-ann", "c-ann", "08:00", "08:50")],
    )
    assert fixed_to(short_shift, {"v-ann": ("08:30", ["w-amy"])})[0] == "OPTIMAL"
    assert fixed_to(short_shift, {"v-ann": ("08:31", ["w-amy"])})[0] == "INFEASIBLE"


# -- rule 4: travel between consecutive visits --------------------------------------------------


def two_calls() -> Problem:
    """Amy visits Ann at 08:00 (30 minutes), then Bob, 9 minutes' drive away (0.03 degrees)."""
    return agency(
        clients=[client("c-ann", ANN), client("c-bob", BOB)],
        visits=[visit("v-ann", "c-ann", "08:00"), visit("v-bob", "c-bob", "08:30", "09:00")],
        history=knows(("w-amy", "c-ann"), ("w-amy", "c-bob")),
    )


def test_the_next_visit_starts_once_the_drive_is_done() -> None:
    # Ann ends 08:30 + 9 minutes' drive = 08:39: Bob at 08:39 is the earliest start.
    ann = {"v-ann": ("08:00", ["w-amy"])}
    status, objective = fixed_to(two_calls(), ann | {"v-bob": ("08:39", ["w-amy"])})
    assert status == "OPTIMAL" and objective == 9  # the drive between them, travel_minute 1
    assert fixed_to(two_calls(), ann | {"v-bob": ("08:38", ["w-amy"])})[0] == "INFEASIBLE"


# -- rule 5: the caps ---------------------------------------------------------------------------


@pytest.mark.parametrize("cap", ["max_minutes_per_day", "max_minutes_per_week"])
def test_caps_count_visit_minutes_and_the_drive_between(cap: str) -> None:
    # Ann 30 + 9 minutes' drive + Bob 30 = 69 working minutes (the drives from and to home do
    # not count): a cap of 69 holds them, 68 does not.
    crews = {"v-ann": ("08:00", ["w-amy"]), "v-bob": ("08:39", ["w-amy"])}
    for limit, verdict in ((69, "OPTIMAL"), (68, "INFEASIBLE")):
        raw = two_calls().model_dump(mode="json")
        raw["workers"][0][cap] = limit
        assert fixed_to(Problem.model_validate(raw), crews)[0] == verdict, limit


# -- rule 6: the coordinator rule (priced, never refused) ---------------------------------------


def test_a_coordinator_visit_missing_is_priced_not_refused() -> None:
    # November ends on Monday 30th: Kim must see Ann this month. Shadowing Amy there costs
    # Kim's face at Ann (distinct 30 + unfamiliar 60); leaving it out costs coordinator_rule 5000.
    month_end = agency(
        period={"start": "2026-11-30", "end": "2026-11-30"},
        workers=[
            carer("w-amy", day="2026-11-30"),
            coordinator("k-kim", "07:00", "13:00", "2026-11-30"),
        ],
        clients=[client("c-ann", ANN, coordinator="k-kim")],
        visits=[visit("v-ann", "c-ann", "08:00", day="2026-11-30")],
    )
    amy = {"v-ann": ("2026-11-30T08:00", ["w-amy"])}
    assert fixed_to(month_end, amy, {"v-ann": ["k-kim"]}) == ("OPTIMAL", 90)
    assert fixed_to(month_end, amy) == ("OPTIMAL", 5000)


# -- the hint ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [two_calls, double_up, every_term_bites])
def test_the_hint_is_complete_and_feasible(make: Any) -> None:
    # CP-SAT says so in its log: every variable has a value and the values satisfy the model.
    data = build(make())
    log = hint_log(data, construct(data))
    assert "The solution hint is complete and is feasible." in log


def test_every_neighbourhood_holds_the_rota_it_was_cut_from() -> None:
    """Random neighbourhoods (visits and workers freed) of the agency where every term bites:
    fixed to the hint, each model has exactly that rota as its solution. A term whose bounds
    ignored what the fixed part already costs once made most of them infeasible (a client
    above the weekly faces cap on its fixed visits)."""
    data = build(every_term_bites())
    sol = construct(data)
    rng = random.Random(1)
    for _ in range(30):
        visits = rng.sample(range(data.n_visits), rng.randint(1, data.n_visits // 3))
        workers = rng.sample(range(data.n_workers), rng.randint(1, data.n_workers))
        model = RotaModel(data, sol, Neighbourhood(frozenset(visits), frozenset(workers)))
        model.hint(sol)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.max_time_in_seconds = 10
        solver.parameters.fix_variables_to_their_hinted_value = True
        assert solver.solve(model.model) == cp_model.OPTIMAL, (sorted(visits), sorted(workers))


def test_an_infeasible_hint_is_reported_as_such() -> None:
    data = build(double_up())
    log = hint_log(data, solution(data, {"v-ann": ("08:00", ["w-amy"])}))
    assert "The solution hint is complete, but it is infeasible" in log


def test_the_hinted_rota_costs_what_the_account_says() -> None:
    # On the agency where every term bites, the model fixed to the construction's rota costs
    # what solver.rota.account says, less the visits no one can do (constants of the model).
    data = build(every_term_bites())
    sol = construct(data)
    model = RotaModel(data, sol, whole(data))
    model.hint(sol)
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    assert solver.solve(model.model) == cp_model.OPTIMAL
    outside = sum(1 for v in range(data.n_visits) if v not in model.free and v not in sol.start)
    expected = account(data, sol).objective - data.weights.unassigned_visit * outside
    assert solver.objective_value / model.scale == pytest.approx(expected, abs=0.5)


# -- terms whose weight is zero ------------------------------------------------------------------

# The variables each priced term builds, by the prefix of their names.
TERM_VARIABLES = {
    "contract_shortfall_minute": "shortfall[",
    "late_minute": "late[",
    "max_late_minute": "max_late",
    "coordinator_rule": "coordinator_short[",
    "faces_over_cap": "attends_week[",
    "primary_share_shortfall": "primary_short[",
}


def variable_names(problem: Problem) -> list[str]:
    data = build(problem)
    model = RotaModel(data, construct(data), whole(data))
    return [v.name for v in model.model.proto.variables]


@pytest.mark.parametrize("term", sorted(TERM_VARIABLES))
def test_a_term_whose_weight_is_zero_builds_no_variables(term: str) -> None:
    priced = every_term_bites()
    prefix = TERM_VARIABLES[term]
    assert any(name.startswith(prefix) for name in variable_names(priced))
    free = priced.model_copy(
        update={"weights": priced.weights.model_copy(update={term: 0.0})}, deep=True
    )
    assert not any(name.startswith(prefix) for name in variable_names(free))


def test_continuity_builds_no_variables_when_nothing_prices_it() -> None:
    priced = every_term_bites()
    zero = {"distinct_worker": 0.0, "unfamiliar_worker": 0.0, "face_travel_minutes": 0.0}
    free = priced.model_copy(update={"weights": priced.weights.model_copy(update=zero)})
    names = variable_names(free)
    assert not any(name.startswith(("attends[", "distinct[")) for name in names)
