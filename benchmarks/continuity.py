"""Continuity over four weeks in a row: generated agencies of two sizes, every rota checked.

Usage::

    python -m benchmarks.continuity [--sizes 40 150] [--seed 7] [--weeks 4] [--time-limit 30]
                                    [--effort UNITS] [--teams] [--out benchmarks/results]

For each size, a generated agency (with two weeks of history) is planned week after week with
:func:`solver.weeks.solve_weeks`: each week's rota becomes the next week's history. Every rota
is checked by the independent checker (a breach stops the run). Reported per week, from
:mod:`solver.continuity` and the checker: staffed visits, travel between visits, faces per
client per week and over the last 14 and 28 days (history included), familiar share and the
ceiling the shifts allow, the same ceiling with each familiar carer's time in view
(:func:`solver.bounds.familiar_ceiling`, proven by CP-SAT), the fewest faces availability
allows, the continuity-of-care index. "unknown visit N" rows plan the weeks, rolled, with the
agency's policy price ``unfamiliar_visit`` at N (``--unknown-visit``): what an agency that wants
familiar carers at each visit would set.
A first-week rota with the continuity weights at zero, in the same run, is the reference for
staffing and travel. The care-team model's own figures (solve time, team size, familiar members)
are reported for the first week, and a first-week rota solved with the teams as the clients'
only familiar carers ("teams as familiar": the search steered by the unfamiliar-worker weight
towards them), measured against the agency's real history. "teams guide" rows are the
product's own use of the teams (``SolveOptions.teams``): the first week, or every week with
``--teams``. Weeks after the first start from the week before's rota ("default", rolled
forward); "afresh" rows plan the same weeks without it. A first-week rota with ten times the
continuity weights ("continuity x10") shows whether the prices or the search hold faces where
they are. The team model's teams are also
tried at visit level: the route engine, at the week's effort, with every visit held to its
client's team (coordinators still free to come for the coordinator rule) staffs what it can
("held to teams"), which shows how far the model's day-part capacity is from the real one.

Writes ``continuity.csv`` and ``continuity.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from scenarios.generator import generate
from solver.bounds import familiar_ceiling
from solver.checker import check
from solver.continuity import measure
from solver.contract import HistoryVisit, Problem, Rota
from solver.data import ProblemData, build
from solver.engine.search import Engine
from solver.options import SolveOptions, engine_moves
from solver.solve import finish, solve
from solver.teams import Teams, plan_teams
from solver.weeks import solve_weeks

# CP-SAT's time for the familiar ceiling with capacity (it proves each week in 0.1-0.5 s).
CEILING_SECONDS = 30.0
COLUMNS = (
    "clients",
    "week",
    "weights",
    "staffed",
    "visits",
    "travel",
    "faces_week",
    "faces_14d",
    "faces_28d",
    "familiar",
    "ceiling",
    "ceiling_capacity",
    "fewest",
    "coc",
    "seconds",
)


def row(
    clients: int,
    week: str,
    weights: str,
    problem: Problem,
    rota: Rota,
    secs: float,
    truth: Problem | None = None,
) -> dict[str, Any]:
    """One table row from the checker's figures and the continuity measures; the measures
    against ``truth`` (the agency's real history) where the rota was solved under another."""
    report = check(problem, rota)
    if not report.ok:
        raise SystemExit(f"{clients} clients, week {week}: {report.breaches[0]}")
    m = measure(truth or problem, rota)
    held = familiar_ceiling(build(truth or problem), CEILING_SECONDS)
    return {
        "clients": clients,
        "week": week,
        "weights": weights,
        "staffed": int(report.metrics["visits_assigned"]),
        "visits": int(report.metrics["visits_total"]),
        "travel": round(report.metrics["travel_minutes"]),
        "faces_week": round(m.faces_per_client_week, 2),
        "faces_14d": round(m.faces_per_client_14_days, 2),
        "faces_28d": round(m.faces_per_client_28_days, 2),
        "familiar": round(m.familiar_share, 3),
        "ceiling": round(m.familiar_ceiling, 3),
        "ceiling_capacity": round(held.share, 3),
        "fewest": round(m.fewest_faces_possible, 2),
        "coc": round(m.continuity_of_care_index, 3),
        "seconds": round(secs, 1),
    }


def run(clients: int, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    problem = Problem.model_validate(generate(clients, seed=args.seed))
    options = SolveOptions(time_limit=args.time_limit, seed=args.seed, effort=args.effort)
    rows = []
    started = time.monotonic()
    zero = problem.model_copy(
        update={
            "weights": problem.weights.model_copy(
                update={"distinct_worker": 0.0, "unfamiliar_worker": 0.0}
            )
        }
    )
    reference = solve(zero, options)
    rows.append(row(clients, "1", "continuity 0", zero, reference, time.monotonic() - started))
    print(rows[-1], flush=True)
    clock = [time.monotonic()]

    def done(k: int, week: Problem, rota: Rota) -> None:
        rows.append(row(clients, str(k), "default", week, rota, time.monotonic() - clock[0]))
        print(rows[-1], flush=True)
        clock[0] = time.monotonic()

    solve_weeks(problem, args.weeks, options, on_week=done)
    # The same weeks each planned afresh, not from the week before's rota: what rolling buys.
    clock[0] = time.monotonic()

    def afresh_done(k: int, week: Problem, rota: Rota) -> None:
        rows.append(row(clients, str(k), "afresh", week, rota, time.monotonic() - clock[0]))
        print(rows[-1], flush=True)
        clock[0] = time.monotonic()

    solve_weeks(problem, args.weeks, options, on_week=afresh_done, roll=False)
    # The agency's price per visit by a carer the client does not know, weeks rolled.
    label = f"unknown visit {args.unknown_visit:g}"
    priced = problem.model_copy(
        update={
            "weights": problem.weights.model_copy(update={"unfamiliar_visit": args.unknown_visit})
        }
    )
    clock[0] = time.monotonic()

    def priced_done(k: int, week: Problem, rota: Rota) -> None:
        rows.append(row(clients, str(k), label, week, rota, time.monotonic() - clock[0]))
        print(rows[-1], flush=True)
        clock[0] = time.monotonic()

    solve_weeks(priced, args.weeks, options, on_week=priced_done)
    tenfold = scaled_continuity(problem, 10.0)
    clock[0] = time.monotonic()
    rota = solve(tenfold, options)
    secs = time.monotonic() - clock[0]
    rows.append(row(clients, "1", "continuity x10", tenfold, rota, secs, truth=problem))
    print(rows[-1], flush=True)
    # The product's own use of the teams: each week's care teams planned first and pulling the
    # engine's insertions towards them (SolveOptions.teams).
    guide = replace(options, teams=True)
    clock[0] = time.monotonic()

    def guided_done(k: int, week: Problem, rota: Rota) -> None:
        rows.append(row(clients, str(k), "teams guide", week, rota, time.monotonic() - clock[0]))
        print(rows[-1], flush=True)
        clock[0] = time.monotonic()

    solve_weeks(problem, args.weeks if args.teams else 1, guide, on_week=guided_done)
    data = build(problem)
    plan = plan_teams(data, args.team_time, args.seed)
    # The teams as the only familiar carers: today's search, steered by the continuity weights
    # towards them, with no change to the search itself.
    guided = as_familiar(problem, data, plan.teams)
    clock[0] = time.monotonic()
    steered = solve(guided, options)
    secs = time.monotonic() - clock[0]
    rows.append(row(clients, "1", "teams as familiar", guided, steered, secs, truth=problem))
    print(rows[-1], flush=True)
    held = held_to_teams(data, plan.teams, engine_moves(options), args.seed)
    report = check(problem, held)
    if not report.ok:
        raise SystemExit(f"{clients} clients, held to teams: {report.breaches[0]}")
    sizes = [len(ws) for ws in plan.teams.values()]
    members = [(c, w) for c, ws in plan.teams.items() for w in ws]
    teams = {
        "clients": clients,
        "workers": data.n_workers,
        "visits": data.n_visits,
        "seconds": round(plan.seconds, 1),
        "status": plan.status,
        "mean_team": round(sum(sizes) / len(sizes), 2) if sizes else 0.0,
        "familiar_members": round(
            sum(bool(data.familiar[c, w]) for c, w in members) / len(members), 3
        )
        if members
        else 0.0,
        "uncovered_minutes": plan.uncovered_minutes,
        "held_staffed": int(report.metrics["visits_assigned"]),
        "held_faces": round(measure(problem, held).faces_per_client_week, 2),
        "notes": "; ".join(plan.notes),
    }
    print(teams, flush=True)
    return rows, teams


def scaled_continuity(problem: Problem, factor: float) -> Problem:
    """``problem`` with its distinct- and unfamiliar-worker weights ``factor`` times over."""
    w = problem.weights
    update = {
        "distinct_worker": w.distinct_worker * factor,
        "unfamiliar_worker": w.unfamiliar_worker * factor,
    }
    return problem.model_copy(update={"weights": w.model_copy(update=update)})


def held_to_teams(data: ProblemData, teams: Teams, moves: int, seed: int) -> Rota:
    """The engine's rota (construction and ``moves`` of annealing) with every visit of a client
    with a team allowed only to its members and to coordinators."""
    candidates: list[list[int]] = []
    shifts: list[dict[int, int]] = []
    for v in range(data.n_visits):
        team = teams.get(int(data.visit_client[v]))
        if team is None:
            keep = data.candidates[v]
        else:
            keep = [w for w in data.candidates[v] if w in team or data.is_coordinator[w]]
        candidates.append(keep)
        # A shadowing coordinator is not a candidate: their shifts stay.
        dropped = set(data.candidates[v]) - set(keep)
        shifts.append({w: h for w, h in data.visit_shift[v].items() if w not in dropped})
    engine = Engine(replace(data, candidates=candidates, visit_shift=shifts))
    engine.construct()
    sol = engine.anneal(moves, seed)
    return finish(data, sol, "feasible", None)


def as_familiar(problem: Problem, data: ProblemData, teams: Teams) -> Problem:
    """``problem`` with its carers' history replaced by the care teams (seen the day before)."""
    day = problem.period.start - timedelta(days=1)
    seen = [
        HistoryVisit(client=data.client_ids[c], worker=data.worker_ids[w], date=day)
        for c, ws in teams.items()
        for w in ws
    ]
    history = problem.history.model_copy(update={"visits": seen})
    return problem.model_copy(update={"history": history})


def write(
    rows: list[dict[str, Any]], teams: list[dict[str, Any]], out: Path, args: argparse.Namespace
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "continuity.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        f"Continuity over {args.weeks} weeks (seed {args.seed}, {args.time_limit:g} s a week"
        + (f", effort {args.effort:g}" if args.effort else "")
        + "); every rota checked by the independent checker.",
        "",
        "| clients | week | continuity weights | staffed | travel | faces/week | faces/14 d "
        "| faces/28 d | familiar | ceiling | ceiling, capacity | fewest faces | COC |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['clients']} | {r['week']} | {r['weights']} | {r['staffed']}/{r['visits']} "
            f"| {r['travel']} | {r['faces_week']:.2f} | {r['faces_14d']:.2f} "
            f"| {r['faces_28d']:.2f} | {r['familiar']:.1%} | {r['ceiling']:.1%} "
            f"| {r['ceiling_capacity']:.1%} | {r['fewest']:.2f} | {r['coc']:.3f} |"
        )
    lines += [
        "",
        "Care-team model on the first week:",
        "",
        "| clients | workers | visits | seconds | status | mean team | familiar members "
        "| uncovered minutes | staffed held to teams | faces held to teams |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for t in teams:
        lines.append(
            f"| {t['clients']} | {t['workers']} | {t['visits']} | {t['seconds']} | {t['status']} "
            f"| {t['mean_team']:.2f} | {t['familiar_members']:.1%} | {t['uncovered_minutes']} "
            f"| {t['held_staffed']}/{t['visits']} | {t['held_faces']:.2f} |"
        )
    (out / "continuity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[40, 150])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--effort", type=float, default=None)
    ap.add_argument(
        "--unknown-visit", type=float, default=30.0, help="the policy price of the priced rows"
    )
    ap.add_argument("--team-time", type=float, default=30.0, help="care-team model seconds")
    ap.add_argument(
        "--teams",
        action="store_true",
        help="plan every week with the care teams guiding the engine (else the first week only)",
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    teams: list[dict[str, Any]] = []
    for clients in args.sizes:
        more, team = run(clients, args)
        rows += more
        teams.append(team)
    write(rows, teams, args.out, args)


if __name__ == "__main__":
    main()
