"""The route engine's incremental objective against the full account and the independent checker.

Long random move sequences on agencies with every rule in play (double-ups, ``after`` links,
caps, pins, coordinators and their month's end, a clock change, late starts) and on a research
instance with fractional travel: after every accepted move the engine's running terms must equal
:func:`solver.rota.account` of its solution, and every so often the rota must pass the checker
with the same objective.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import numpy as np
import pytest

from scenarios.generator import generate
from solver.contract import Problem
from solver.data import ProblemData, build, scaled
from solver.engine import kernels as k
from solver.engine import search
from solver.engine.search import Engine
from solver.engine.state import TERMS
from solver.engine.warm import main as warm_main
from solver.importers import benchdata_dir, import_problem
from solver.rota import Solution, account, to_rota
from tests.helpers import verified


def every_rule(clients: int, seed: int, apart: int = 0) -> Problem:
    """A generated agency over the October clock change and a month's end, with pins, a
    double-up pair linked to start together, lateness allowed and tight caps added; with
    ``apart``, that many pairs of one client's visits on one day also linked to go to different
    workers (any start on the day), where continuity pulls towards the same carer."""
    raw: dict[str, Any] = generate(clients, seed, start=date(2026, 10, 22), days=14)
    rng = np.random.default_rng(seed)
    visits = raw["visits"]
    by_id = {v["id"]: v for v in visits}
    for v in visits[::7]:
        v["late_allowed_minutes"] = 45
    workers = raw["workers"]
    for w in workers[::3]:
        w["max_minutes_per_day"] = 300
    # Pin a carer on a few single visits they can already do (their shift holds the window).
    problem = Problem.model_validate(raw)
    data = build(problem)
    pinned = 0
    for v in rng.permutation(data.n_visits):
        cands = data.candidates[int(v)]
        if data.required[v] == 1 and cands and "after" not in visits[int(v)]:
            by_id[data.visit_ids[int(v)]]["pinned_workers"] = [data.worker_ids[cands[0]]]
            pinned += 1
        if pinned == 4:
            break
    # Two single visits of one client on one day that must start together.
    for v in visits:
        twin = [
            u
            for u in visits
            if u is not v
            and u["client"] == v["client"]
            and u["earliest_start"] == v["earliest_start"]
            and "after" not in u
            and "after" not in v
        ]
        if twin:
            twin[0]["after"] = {"visit": v["id"], "min_minutes": 0, "max_minutes": 0}
            break
    linked = 0
    for v in visits:
        if linked == apart:
            break
        if "after" in v or "pinned_workers" in v:
            continue
        later = [
            u
            for u in visits
            if u["client"] == v["client"]
            and u["earliest_start"][:10] == v["earliest_start"][:10]
            and u["earliest_start"] > v["earliest_start"]
            and "after" not in u
            and "pinned_workers" not in u
        ]
        if later:
            link = {"visit": v["id"], "min_minutes": -1440, "max_minutes": 1440}
            later[0]["after"] = link | {"distinct_workers": True}
            linked += 1
    assert linked == apart
    return Problem.model_validate(raw)


def in_minutes(data: ProblemData, sol: Solution) -> Solution:
    """A solution in the data's units as whole minutes with seconds kept, as rotas hold it."""
    if data.unit == 1:
        return sol
    out = sol.copy()
    out.start = {v: s // data.unit for v, s in sol.start.items()}
    out.seconds = {v: s * 60 // data.unit for v, s in sol.start.items()}
    return out


def replay(problem: Problem, unit: int, steps: int, seed: int) -> int:
    """Random moves one at a time, at a temperature that takes most of them; checks each."""
    data = build(problem)
    work = scaled(data, unit) if unit > 1 else data
    engine = Engine(work)
    engine.construct()
    c, s = engine.c, engine.s
    k.seed(seed)
    weights = np.full(k.N_MOVES, 1.0)
    stats = np.zeros((k.N_MOVES, 4), dtype=np.int64)
    best_routes, best_rlen = s.route.copy(), s.rlen.copy()
    best, saved = np.array([np.inf]), np.array([1], dtype=np.int64)
    accepted = 0
    for step in range(steps):
        before = int(stats[:, 2].sum())
        k.anneal(c, s, 1, step, steps, 500.0, 500.0, weights, stats, best_routes, best_rlen,
                 best, saved)  # fmt: skip
        if int(stats[:, 2].sum()) == before:
            continue
        accepted += 1
        sol = in_minutes(work, engine.solution())
        acc = account(data, sol)
        for i, name in enumerate(TERMS):
            # The account lists a policy term only where its weight is above zero.
            assert s.terms[i] * c.weights[i] == pytest.approx(acc.terms.get(name, 0.0), abs=1e-6), (
                step,
                name,
            )
        assert engine.objective == pytest.approx(acc.objective, abs=1e-6)
        for v in np.flatnonzero(data.after_distinct).tolist():
            u = int(data.after_visit[v])
            shared = set(sol.workers.get(v, ())) & set(sol.workers.get(u, ()))
            assert not shared, (step, data.visit_ids[v], shared)
        if accepted % 40 == 1:
            report = verified(problem, to_rota(data, sol, status="feasible", reasons={}))
            assert report.objective == pytest.approx(engine.objective, abs=0.01)
    return accepted


@pytest.mark.parametrize("seed", [1, 2])
def test_random_moves_keep_the_objective_exact_on_a_generated_agency(seed: int) -> None:
    accepted = replay(every_rule(12, seed), unit=1, steps=1500, seed=seed)
    assert accepted > 300  # the replay did move: most moves at this temperature are taken


def test_random_moves_keep_distinct_workers_apart() -> None:
    # Twelve pairs of one client's visits on one day, each pair for two different workers;
    # replay() checks every accepted rota for a worker on both. The same pairs without the
    # flag do get one carer on both (continuity's pull), so the check has something to catch.
    problem = every_rule(12, 6, apart=12)
    assert replay(problem, unit=1, steps=1500, seed=6) > 300
    plain = [
        v.model_copy(update={"after": v.after.model_copy(update={"distinct_workers": False})})
        if v.after is not None
        else v
        for v in problem.visits
    ]
    data = build(problem.model_copy(update={"visits": plain}))
    engine = Engine(data)
    engine.construct()
    sol = engine.anneal(3000, seed=6)
    pairs = [(p.id, p.after.visit) for p in problem.visits if p.after and p.after.distinct_workers]
    ids = {ident: v for v, ident in enumerate(data.visit_ids)}
    shared = [
        (a, b)
        for a, b in pairs
        if set(sol.workers.get(ids[a], ())) & set(sol.workers.get(ids[b], ()))
    ]
    assert shared


def test_random_moves_keep_the_continuity_policy_exact() -> None:
    # The agency's policy terms (a face cap of 2 a week, a 60% primary carer, a face worth 20
    # minutes of travel, 10 a visit by a carer the client does not know) on the same kind of
    # agency.
    problem = every_rule(12, 4)
    weights = problem.weights.model_copy(
        update={
            "faces_cap": 2,
            "faces_over_cap": 100.0,
            "primary_carer_share": 0.6,
            "primary_share_shortfall": 15.0,
            "face_travel_minutes": 20.0,
            "unfamiliar_visit": 10.0,
        }
    )
    accepted = replay(problem.model_copy(update={"weights": weights}), unit=1, steps=800, seed=4)
    assert accepted > 150


def test_random_moves_keep_the_objective_exact_on_a_research_instance() -> None:
    root = benchdata_dir()
    if root is None:
        pytest.skip("the public benchmark data is not beside the repository")
    path = root / "mankowska2014" / "instances" / "InstanzCPLEX_HCSRP_25_1.txt"
    # Travel here is fractional: the engine works in seconds, as the whole model does.
    accepted = replay(import_problem("mankowska", path), unit=60, steps=1500, seed=3)
    assert accepted > 150


def test_same_seed_and_effort_give_the_same_rota() -> None:
    data = build(every_rule(10, 5))
    runs = []
    for _ in range(2):
        engine = Engine(data)
        engine.construct()
        sol = engine.anneal(3000, seed=11)
        runs.append((sol.start, sol.workers, sol.shadows, engine.objective))
    assert runs[0] == runs[1]


def test_two_walkers_give_the_same_rota_every_time_and_keep_it_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Walkers in threads meet every round and go on from the best rota: the result may not
    depend on which thread ran first, and the rota they hand back is exact and valid."""
    monkeypatch.setattr(search, "ROUND", 1500)
    problem = every_rule(10, 5)
    data = build(problem)
    runs = []
    for _ in range(2):
        engine = Engine(data)
        engine.construct()
        # Three rounds, the last one short: the walkers restart twice from the best rota.
        sol = engine.anneal(2 * search.ROUND + 500, seed=11, walkers=2)
        runs.append((sol.start, sol.workers, sol.shadows, engine.objective))
        assert engine.stats.moves == 2 * (2 * search.ROUND + 500)
        assert engine.objective == pytest.approx(account(data, sol).objective, abs=1e-6)
        verified(problem, to_rota(data, sol, status="feasible", reasons={}))
    assert runs[0] == runs[1]


def test_a_route_ruin_empties_the_shortest_route_drawn_and_keeps_the_account() -> None:
    # Every rule in play: pins hold their visits, and a linked visit leaves with its partner.
    problem = every_rule(10, 4)
    data = build(problem)
    engine = Engine(data)
    engine.construct()
    c, s = engine.c, engine.s
    k.seed(5)
    before = {h: [int(e) for e in s.route[h, : s.rlen[h]]] for h in range(len(s.rlen))}
    taken = k.ruin_route(c, s)
    assert taken > 0
    gone = {int(v) for v in s.buf1[:taken]}
    emptied = [h for h, stops in before.items() if any(e // 2 in gone for e in stops)]
    # The route drawn keeps only what a pin holds there (and shadows of visits kept).
    held = [
        h
        for h in emptied
        if all(
            e % 2 == 1 or k.pinned_member(c, e // 2, int(c.shift_w[h]))
            for e in s.route[h, : s.rlen[h]]
        )
    ]
    assert held, "no route was emptied"
    assert all(int(s.ncrew[v]) == 0 for v in gone)
    assert k.reschedule(c, s)
    sol = engine.solution()
    assert engine.objective == pytest.approx(account(data, sol).objective, abs=1e-6)


def test_a_string_ruin_cuts_one_run_of_stops_from_each_of_at_most_three_routes() -> None:
    # Single visits without links or pins, so every visit taken was cut from a string.
    raw: dict[str, Any] = generate(10, 3)
    for v in raw["visits"]:
        v["workers_required"] = 1
        v.pop("after", None)
        v.pop("pinned_workers", None)
    problem = Problem.model_validate(raw)
    data = build(problem)
    engine = Engine(data)
    engine.construct()
    c, s = engine.c, engine.s
    k.seed(2)
    for _ in range(30):
        k.begin(s)
        before = {
            h: [int(e) // 2 for e in s.route[h, : s.rlen[h]] if e % 2 == 0]
            for h in range(len(s.rlen))
        }
        taken = k.ruin_strings(c, s)
        gone = {int(v) for v in s.buf1[:taken]}
        assert taken == len(gone) > 0
        assert all(int(s.ncrew[v]) == 0 for v in gone)
        cut = {h: [i for i, v in enumerate(stops) if v in gone] for h, stops in before.items()}
        cut = {h: at for h, at in cut.items() if at}
        assert 1 <= len(cut) <= 3
        for at in cut.values():
            assert at == list(range(at[0], at[0] + len(at))), (
                "a route lost stops that were not a run"
            )
        assert k.reschedule(c, s)
        sol = engine.solution()
        assert engine.objective == pytest.approx(account(data, sol).objective, abs=1e-6)
        k.rollback(c, s)


def test_warm_runs_its_two_compiling_processes_and_reports_its_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The install step's command: two spawned processes compile (or here, with the cache
    # written, load) a part of the kernels each, then this process runs every kernel.
    warm_main(["--jobs", "2"])
    assert re.fullmatch(r"carerota: route engine ready in \d+\.\d s\n", capsys.readouterr().out)
