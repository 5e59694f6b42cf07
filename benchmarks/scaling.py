"""How the optimiser does on generated agencies of three sizes, against the heuristic.

Usage::

    python -m benchmarks.scaling [--sizes small medium large] [--seeds 1 2] [--time-limit 300]
                                 [--out benchmarks/results]

Each (size, seed) runs in its own process (so peak memory is that run's alone): the construction
heuristic, then the optimiser (the route engine, then CP-SAT) with a progress callback. Every
rota is checked with the independent checker; the figures in the table are the checker's.
``plateau_1pct_s`` is when the search's best first came within 1% of its last. Writes
``scaling.csv`` and ``scaling.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any

from scenarios.generator import SIZES, generate
from solver.bounds import most_clients_seen
from solver.checker import check
from solver.contract import Problem
from solver.data import build
from solver.options import SolveOptions
from solver.solve import solve

CHECKPOINTS = (10, 30, 60, 300)


def _at(trace: list[tuple[float, float]], t: float) -> float | None:
    """The best objective found by ``t`` seconds."""
    seen = [obj for when, obj in trace if when <= t]
    return min(seen) if seen else None


def unavoidable_shortfalls(problem: Problem) -> int:
    data = build(problem)
    return sum(
        max(0, req.required - most_clients_seen(data, req, time_limit=5.0))
        for req in data.requirements
        if req.required > 0
    )


def plateau(trace: list[tuple[float, float]], final: float, within: float = 0.01) -> float | None:
    """The first time the best objective came within ``within`` of ``final`` (the run's last)."""
    for when, obj in trace:
        if obj <= final * (1 + within) + 1e-9:
            return when
    return None


def run_one(size: str, seed: int, time_limit: float) -> dict[str, Any]:
    problem = Problem.model_validate(generate(SIZES[size], seed))
    t0 = time.monotonic()
    base = solve(problem, SolveOptions(method="heuristic", seed=seed))
    heuristic_s = time.monotonic() - t0
    base_report = check(problem, base)
    trace: list[tuple[float, float]] = []
    t0 = time.monotonic()
    rota = solve(
        problem,
        SolveOptions(time_limit=time_limit, seed=seed, workers=1),
        progress=lambda _e, o, _b, _f=None, /: trace.append((time.monotonic() - t0, o)),
    )
    total_s = time.monotonic() - t0
    report = check(problem, rota)
    m = report.metrics
    row: dict[str, Any] = {
        "size": size,
        "seed": seed,
        "visits": len(problem.visits),
        "workers": len(problem.workers),
        "heuristic_s": round(heuristic_s, 2),
        "heuristic_objective": round(base_report.objective, 1),
        "heuristic_staffed": int(base_report.metrics["visits_assigned"]),
        "first_rota_s": round(trace[0][0], 2) if trace else None,
        # When the search came within 1% of where it ended (the objective it reported last).
        "plateau_1pct_s": None if not trace else round(plateau(trace, trace[-1][1]) or 0.0, 1),
        "wall_s": round(total_s, 1),
        "objective": round(report.objective, 1),
        "best_bound": rota.best_bound,
        "vs_heuristic_pct": round(100 * (report.objective / base_report.objective - 1), 1),
        "staffed": int(m["visits_assigned"]),
        "travel_h": round(m["travel_minutes"] / 60, 1),
        "distinct_per_client": round(m["mean_distinct_workers_per_client"], 2),
        "familiar_share": round(m["familiar_visit_share"], 3),
        "coordinator_shortfalls": len(report.shortfalls),
        # Shortfalls no rota can avoid (the coordinator alone could not see those clients).
        "unavoidable_shortfalls": unavoidable_shortfalls(problem),
        "checker_ok": report.ok,
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    for t in CHECKPOINTS:
        if t <= time_limit:
            value = _at(trace, t)
            row[f"objective_{t}s"] = None if value is None else round(value, 1)
    return row


def _child(args: tuple[str, int, float]) -> dict[str, Any]:
    return run_one(*args)


def write(rows: list[dict[str, Any]], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with (out / "scaling.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    (out / "scaling.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"], choices=SIZES)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    rows = []
    ctx = mp.get_context("spawn")
    for size in args.sizes:
        for seed in args.seeds:
            # One process per run, one at a time: the machine has two cores and a run uses one.
            with ctx.Pool(1) as pool:
                row = pool.apply(_child, ((size, seed, args.time_limit),))
            print(row, flush=True)
            rows.append(row)
            write(rows, args.out)


if __name__ == "__main__":
    main()
