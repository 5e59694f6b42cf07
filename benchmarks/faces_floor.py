"""How few faces could a week show? A floor with capacity in view, against the engine's rota.

Usage::

    python -m benchmarks.faces_floor [--sizes 40 150] [--seed 7] [--effort 18]
                                     [--time-limit 300] [--out benchmarks/results]

For each size, a generated agency's first week (with two weeks of history, as in
``benchmarks.continuity``) is solved by ``solve()`` at the given effort and checked by the
independent checker. Its faces per client per week are set against two floors: the fewest faces
availability allows (``solver.continuity``: skills and shifts, capacity ignored) and
:func:`solver.bounds.faces_floor` (skills, shifts, the pairs of visits no worker can do both
of, visit minutes per stretch of a shift, caps), proven by CP-SAT for rotas that staff as many
visits as the engine's. Its familiar share (slots taken by a carer the client knows) is set
against two ceilings: the continuity measures' (a familiar carer with the skills and a shift
holding the visit) and :func:`solver.bounds.familiar_ceiling` (each familiar carer's time kept
as the floor keeps it). Writes ``faces_floor.csv`` and ``faces_floor.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

from scenarios.generator import generate
from solver.bounds import faces_floor, familiar_ceiling
from solver.checker import check
from solver.continuity import measure
from solver.contract import Problem
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve

COLUMNS = (
    "clients",
    "staffed",
    "visits",
    "faces_week",
    "availability_floor",
    "capacity_floor",
    "relaxed_best",
    "floor_seconds",
    "familiar_share",
    "familiar_ceiling",
    "familiar_ceiling_capacity",
)


def run(clients: int, args: argparse.Namespace) -> dict[str, Any]:
    problem = Problem.model_validate(generate(clients, seed=args.seed))
    rota = solve(problem, SolveOptions(time_limit=600, seed=args.seed, effort=args.effort))
    report = check(problem, rota)
    if not report.ok:
        raise SystemExit(f"{clients} clients: {report.breaches[0]}")
    m = measure(problem, rota)
    data = build(problem)
    index = {w: i for i, w in enumerate(data.worker_ids)}
    visit = {v: i for i, v in enumerate(data.visit_ids)}
    hint = {visit[a.visit]: [index[w] for w in a.workers] for a in rota.assignments}
    started = time.process_time()
    floor = faces_floor(data, len(rota.assignments), args.time_limit, hint=hint)
    ceiling = familiar_ceiling(data, args.time_limit)
    return {
        "clients": clients,
        "staffed": len(rota.assignments),
        "visits": len(problem.visits),
        "faces_week": round(m.faces_per_client_week, 2),
        "availability_floor": round(m.fewest_faces_possible, 2),
        "capacity_floor": round(floor.per_client_week, 2),
        "relaxed_best": round(floor.faces / floor.client_weeks, 2) if floor.faces >= 0 else "",
        "floor_seconds": round(time.process_time() - started, 1),
        "familiar_share": round(m.familiar_share, 3),
        "familiar_ceiling": round(m.familiar_ceiling, 3),
        "familiar_ceiling_capacity": round(ceiling.share, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 150])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--effort", type=float, default=18.0)
    parser.add_argument("--time-limit", type=float, default=300.0, help="CP-SAT's, per floor")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rows = []
    for clients in args.sizes:
        rows.append(run(clients, args))
        print(rows[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "faces_floor.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "| clients | staffed / visits | faces per client per week | availability floor "
        "| capacity floor (proven) | relaxation's best plan | floors CPU s "
        "| familiar share | its ceiling (shifts) | its ceiling (capacity, proven) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['clients']} | {r['staffed']} / {r['visits']} | {r['faces_week']} "
        f"| {r['availability_floor']} | {r['capacity_floor']} | {r['relaxed_best']} "
        f"| {r['floor_seconds']} | {r['familiar_share']:.1%} | {r['familiar_ceiling']:.1%} "
        f"| {r['familiar_ceiling_capacity']:.1%} |"
        for r in rows
    ]
    (args.out / "faces_floor.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
