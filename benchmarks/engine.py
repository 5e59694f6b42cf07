"""The route engine on generated agencies of three sizes, against the naive greedy and the
previous design (CP-SAT neighbourhood search alone), in the same run.

Usage::

    python -m benchmarks.engine [--sizes small medium large] [--seeds 1] [--time-limit 60]
                                [--out benchmarks/results]

For each agency: the time-ordered greedy (earliest window first, first free crew, appended),
the engine's construction, ``solve()`` with the engine (default) and with ``method="cpsat"``,
each in its own process (peak memory is its own). The engine runs on a fixed effort (moves and
CP-SAT deterministic time per second of the limit), so a busy machine changes its wall time, not
its rota. Every rota is checked by the independent checker; the figures are the checker's.
Writes ``engine.csv`` and ``engine.md`` into ``--out``.

Stress agencies, shaped like the real provider's week of issue 14 (a quarter of the visits
double-ups, a lean workforce, no history)::

    python -m benchmarks.engine --sizes medium --seeds 1 2 3 --double-ups 0.24 --supply 0.9 \
        --no-history --methods engine --out DIR
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any, NamedTuple

from scenarios.generator import SIZES, generate
from solver.checker import check
from solver.contract import Problem, Rota
from solver.data import build
from solver.options import DTIME_PER_SECOND, MOVES_PER_SECOND, SolveOptions

# How far past the limit the clock may run on a busy machine before it stops a run.
WALL_SLACK = 4.0


class Shape(NamedTuple):
    """How an agency is generated: its size, seed and the generator's stress knobs."""

    size: str
    seed: int
    double_ups: float | None = None
    supply: float = 1.0
    history: bool = True

    def problem(self) -> dict[str, Any]:
        made = generate(SIZES[self.size], self.seed, double_ups=self.double_ups, supply=self.supply)
        if not self.history:
            made["history"] = {"visits": [], "coordinator_visits": []}
        return made

    def label(self) -> str:
        extra = [f"{self.double_ups:.0%} double-ups"] if self.double_ups is not None else []
        extra += [f"supply {self.supply:g}"] if self.supply != 1.0 else []
        extra += [] if self.history else ["no history"]
        return ", ".join([self.size, f"seed {self.seed}", *extra])


def _figures(problem: Problem, rota: Rota) -> dict[str, Any]:
    report = check(problem, rota)
    m = report.metrics
    return {
        "ok": report.ok,
        "objective": round(report.objective, 1),
        "staffed": int(m["visits_assigned"]),
        "travel": round(m["travel_minutes"], 1),
        "faces": round(m["mean_distinct_workers_per_client"], 2),
        "familiar": round(m["familiar_visit_share"], 3),
        "coordinator": len(report.shortfalls),
    }


def _greedy(shape: Shape) -> dict[str, Any]:
    from solver.engine import kernels as k
    from solver.engine.search import Engine
    from solver.solve import finish

    problem = Problem.model_validate(shape.problem())
    data = build(problem)
    out: dict[str, Any] = {}
    for name in ("greedy", "construction"):
        t0 = time.process_time()
        engine = Engine(data)
        if name == "greedy":
            k.greedy_append(engine.c, engine.s, engine.time_order())
        else:
            engine.construct()
        seconds = time.process_time() - t0
        rota = finish(data, engine.solution(), "feasible", None)
        out[name] = {**_figures(problem, rota), "cpu_s": round(seconds, 2)}
    return out


def _solve(shape: Shape, method: str, limit: float, workers: int = 1) -> dict[str, Any]:
    from solver.solve import solve

    problem = Problem.model_validate(shape.problem())
    trace: list[tuple[float, float]] = []
    options = SolveOptions(
        time_limit=WALL_SLACK * limit,
        seed=shape.seed,
        workers=workers,
        method=method,
        effort=DTIME_PER_SECOND * limit,
        moves=int(MOVES_PER_SECOND * limit),
    )
    t0 = time.monotonic()
    c0 = time.process_time()
    rota = solve(problem, options, lambda t, obj, _bound, _figures=None, /: trace.append((t, obj)))
    wall = time.monotonic() - t0
    cpu = time.process_time() - c0
    final = rota.objective if rota.objective is not None else float("inf")
    plateau = next((t for t, obj in trace if obj <= final * 1.01), wall)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        **_figures(problem, rota),
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "plateau_s": round(plateau, 1),
        "peak_mib": round(peak),
    }


def _in_process(fn: Any, *args: Any) -> Any:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def run(shape: Shape, limit: float, walkers: list[int], methods: list[str]) -> dict[str, Any]:
    problem = shape.problem()
    row: dict[str, Any] = {
        "agency": shape.label(),
        "visits": len(problem["visits"]),
        "double_ups": sum(1 for v in problem["visits"] if v.get("workers_required", 1) == 2),
        "workers": len(problem["workers"]),
    }
    base = _in_process(_greedy, shape)
    for name, figures in base.items():
        row.update({f"{name}_{key}": value for key, value in figures.items()})
    for method in methods:
        for n in walkers if method == "engine" else [1]:
            figures = _in_process(_solve, shape, method, limit, n)
            tag = method if n == 1 else f"{method}{n}"
            row.update({f"{tag}_{key}": value for key, value in figures.items()})
    return row


COLUMNS = (
    ("agency", "agency"),
    ("visits", "visits"),
    ("double_ups", "double-ups"),
    ("greedy_staffed", "greedy staffed"),
    ("construction_staffed", "construction staffed"),
    ("construction_cpu_s", "construction CPU s"),
    ("engine_staffed", "engine staffed"),
    ("cpsat_staffed", "CP-SAT LNS staffed"),
    ("greedy_objective", "greedy objective"),
    ("engine_objective", "engine objective"),
    ("cpsat_objective", "CP-SAT LNS objective"),
    ("engine_travel", "engine travel"),
    ("cpsat_travel", "CP-SAT LNS travel"),
    ("engine_faces", "engine faces/client"),
    ("cpsat_faces", "CP-SAT LNS faces/client"),
    ("engine_familiar", "engine familiar"),
    ("engine_coordinator", "engine coord. shortfalls"),
    ("cpsat_coordinator", "CP-SAT LNS coord. shortfalls"),
    ("engine_plateau_s", "engine: 1% plateau s"),
    ("engine_cpu_s", "engine CPU s"),
    ("engine_peak_mib", "engine peak MiB"),
    ("engine_ok", "checked"),
    # With --walkers 1 2: the engine on two walkers, each making the same moves.
    ("engine2_staffed", "2 walkers: staffed"),
    ("engine2_objective", "2 walkers: objective"),
    ("engine2_travel", "2 walkers: travel"),
    ("engine2_faces", "2 walkers: faces/client"),
    ("engine2_wall_s", "2 walkers: wall s"),
    ("engine2_cpu_s", "2 walkers: CPU s"),
    ("engine2_ok", "2 walkers: checked"),
)


def write(rows: list[dict[str, Any]], out: Path, note: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "engine.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in rows for k in r}))
        writer.writeheader()
        writer.writerows(rows)
    lines = [note, "", "| " + " | ".join(h for _, h in COLUMNS) + " |"]
    lines.append("|" + "---|" * len(COLUMNS))
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(k, "")) for k, _ in COLUMNS) + " |")
    (out / "engine.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["small", "medium", "large"], choices=SIZES)
    ap.add_argument("--seeds", nargs="+", type=int, default=[1])
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument(
        "--walkers", nargs="+", type=int, default=[1], help="engine runs with these walkers"
    )
    ap.add_argument(
        "--methods", nargs="+", default=["engine", "cpsat"], choices=["engine", "cpsat"]
    )
    ap.add_argument("--double-ups", type=float, help="share of visits needing two carers")
    ap.add_argument("--supply", type=float, default=1.0, help="scales the carers hired")
    ap.add_argument("--no-history", action="store_true", help="no past visits: nobody familiar")
    args = ap.parse_args(argv)
    rows = []
    for size in args.sizes:
        for seed in args.seeds:
            shape = Shape(size, seed, args.double_ups, args.supply, not args.no_history)
            rows.append(run(shape, args.time_limit, args.walkers, args.methods))
            note = (
                f"{time.strftime('%Y-%m-%d')}, effort of {args.time_limit:g} s "
                f"({MOVES_PER_SECOND * args.time_limit:,.0f} moves, "
                f"{DTIME_PER_SECOND * args.time_limit:g} CP-SAT units)"
            )
            write(rows, args.out, note)
            print(rows[-1], flush=True)


if __name__ == "__main__":
    main()
