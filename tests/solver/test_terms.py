"""Every weight of the contract is priced everywhere a rota is priced.

A soft rule lives in five places (docs/adding-a-rule.md): the CP-SAT model (``solver/model.py``),
the solver's own account (``solver/rota.py``), the independent checker (``solver/checker.py``),
the explanation's labels (``solver/explain.py``) and the engine's incremental evaluation
(``solver/engine``). A weight added to ``Weights`` and forgotten in one of them fails
here: the agency below makes every term bite, and each place must price it to the same amount.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ortools.sat.python import cp_model

from solver.checker import POLICY_NAMES, WEIGHT_NAMES, check
from solver.contract import Problem, Weights
from solver.data import ProblemData, build
from solver.engine.search import Engine
from solver.engine.state import TERMS
from solver.explain import LABELS
from solver.heuristic import construct
from solver.model import Neighbourhood, RotaModel
from solver.rota import Solution, account
from solver.solve import finish
from tests.builders import every_term_bites

# Fields of Weights that shape a term but are not a price of their own.
PARAMETERS = frozenset({"faces_cap", "faces_cap_hard", "primary_carer_share"})
PRICES = sorted(set(Weights.model_fields) - PARAMETERS)

# A pricer: the objective terms of ``sol`` by weight name, as one part of the solver sees them.
Pricer = Callable[[Problem, ProblemData, Solution], dict[str, float]]


def engine_terms(_problem: Problem, data: ProblemData, sol: Solution) -> dict[str, float]:
    """The route engine's running terms after it loads ``sol`` (its starts recomputed)."""
    engine = Engine(data)
    assert engine.load(sol)
    weights = engine.c.weights
    return {name: float(engine.s.terms[i] * weights[i]) for i, name in enumerate(TERMS)}


# The engine's incremental evaluation, held to the account's numbers like the model's.
ENGINE_PRICERS: dict[str, Pricer] = {"engine": engine_terms}


@pytest.fixture(scope="module")
def agency() -> Problem:
    """An agency on which every term bites (``tests.builders.every_term_bites``)."""
    return every_term_bites()


@pytest.fixture(scope="module")
def built(agency: Problem) -> tuple[ProblemData, Solution]:
    data = build(agency)
    return data, construct(data)


def test_every_weight_is_a_price_or_a_named_parameter() -> None:
    # A new field of Weights is either priced (and so checked below) or listed as a parameter.
    assert set(Weights.model_fields) >= PARAMETERS
    assert all(Weights.model_fields[name].annotation is float for name in PRICES)


def test_the_checker_names_every_price() -> None:
    assert sorted((*WEIGHT_NAMES, *POLICY_NAMES)) == PRICES


def test_the_explanation_labels_every_price() -> None:
    assert set(LABELS) == set(PRICES)
    assert all(label.strip() and "_" not in label for label in LABELS.values())


def test_the_agency_makes_every_term_bite(built: tuple[ProblemData, Solution]) -> None:
    data, sol = built
    terms = account(data, sol).terms
    assert sorted(terms) == PRICES
    assert [name for name in PRICES if terms[name] <= 0] == []


def test_the_checker_prices_every_term_as_the_account_does(
    agency: Problem, built: tuple[ProblemData, Solution]
) -> None:
    data, sol = built
    ours = account(data, sol).terms
    report = check(agency, finish(data, sol, "feasible", None))
    assert sorted(report.terms) == PRICES
    for name in PRICES:
        assert report.terms[name] == pytest.approx(ours[name], rel=1e-6, abs=0.01), name


def model_terms(_problem: Problem, data: ProblemData, sol: Solution) -> dict[str, float]:
    """The model's terms for ``sol``: the whole-period model with every variable fixed to the
    hint, each term's expressions read back and weighted as ``add_objective`` weights them."""
    hood = Neighbourhood(frozenset(range(data.n_visits)), frozenset(range(data.n_workers)))
    model = RotaModel(data, sol, hood)
    model.hint(sol)
    solver = cp_model.CpSolver()
    solver.parameters.fix_variables_to_their_hinted_value = True
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30
    # The hint is complete and feasible, so fixing every variable to it leaves one solution.
    assert solver.solve(model.model) == cp_model.OPTIMAL
    weights = data.weights.model_dump()
    terms = {
        name: weights[name] * sum(solver.value(expr) * factor for expr, factor in parts)
        for name, parts in model.terms.items()
    }
    # Visits no worker can take stay out of the model (nothing to decide): their unstaffed cost
    # is a constant of the neighbourhood, not a term of the model.
    outside = [v for v in range(data.n_visits) if v not in model.free and v not in sol.start]
    terms["unassigned_visit"] = terms.get("unassigned_visit", 0.0) + weights[
        "unassigned_visit"
    ] * len(outside)
    return terms


PRICERS: dict[str, Pricer] = {"model": model_terms, **ENGINE_PRICERS}


@pytest.mark.parametrize("pricer", sorted(PRICERS))
def test_each_pricer_prices_every_term_as_the_account_does(
    pricer: str, agency: Problem, built: tuple[ProblemData, Solution]
) -> None:
    data, sol = built
    ours = account(data, sol).terms
    theirs = PRICERS[pricer](agency, data, sol)
    assert sorted(name for name, value in theirs.items() if value > 0) == PRICES
    for name in PRICES:
        # The model prices in whole hundredths of a unit (SCALE) per variable.
        assert theirs[name] == pytest.approx(ours[name], rel=1e-3, abs=0.5), name


def test_a_neighbourhood_inside_a_week_already_over_the_faces_cap_stays_feasible(
    built: tuple[ProblemData, Solution],
) -> None:
    """A CP-SAT neighbourhood that frees one visit of a client whose fixed visits already bring
    more carers than the cap: the excess is a constant of the neighbourhood, not a reason to
    find no rota (every neighbourhood of such a client was once infeasible from the start)."""
    data, sol = built
    cap = data.weights.faces_cap
    assert cap is not None

    def week_of(v: int) -> tuple[int, int]:
        return int(data.visit_client[v]), int(data.visit_day[v]) // 7

    chosen = None
    for v in sorted(sol.workers):
        others = {
            w for u, ws in sol.workers.items() if u != v and week_of(u) == week_of(v) for w in ws
        }
        if len(others) > cap and set(sol.workers[v]) <= others:
            chosen = v, others
            break
    assert chosen is not None, "the agency has no client over the cap on its other visits"
    v, others = chosen
    model = RotaModel(data, sol, Neighbourhood(frozenset([v]), frozenset(others)))
    model.hint(sol)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 30
    assert solver.solve(model.model) == cp_model.OPTIMAL
    # Nobody new comes, so the rota's own crew for the visit stays the best there is.
    over = sum(solver.value(e) * f for e, f in model.terms["faces_over_cap"])
    assert over == len(others) - cap
