"""The route engine's moves a CPU second, mixed and move by move, on generated agencies and on a
research instance.

Usage::

    python -m benchmarks.moves [--agencies small medium large] [--mankowska D2] [--moves 100000]
                               [--out benchmarks/results]

For each problem: the engine's construction, then ``--moves`` annealing moves at the default
mix from it (seed 1, one walker), then a quarter as many of each move alone, from the rota the
mixed run left, at a low fixed temperature (so each kind works on a good rota, as most of a
solve's moves do). The times are the process's CPU seconds, so a busy machine changes them
less than the wall clock; the objective after the mixed moves is printed too, so two builds
can be seen to make the same rota. Writes ``moves.csv`` and ``moves.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.public import mankowska_cases
from scenarios.generator import SIZES, generate
from solver.contract import Problem
from solver.data import ProblemData, build
from solver.engine.run import engine_units
from solver.engine.search import MOVE_NAMES, MOVE_WEIGHTS, Engine
from solver.importers import benchdata_dir


def _problems(agencies: list[str], mankowska: list[str]) -> list[tuple[str, ProblemData]]:
    out = [
        (f"{size} agency", build(Problem.model_validate(generate(SIZES[size], 1))))
        for size in agencies
    ]
    root = benchdata_dir()
    if mankowska and root is not None:
        for case in mankowska_cases(root, mankowska):
            out.append((f"Mankowska {case.name}", engine_units(build(case.load()))))
    return out


def measure(name: str, data: ProblemData, moves: int) -> dict[str, Any]:
    engine = Engine(data)
    engine.construct(None)
    t = time.process_time()
    engine.anneal(moves, 1, walkers=1)
    row: dict[str, Any] = {
        "problem": name,
        "visits": data.n_visits,
        "mixed": round(moves / (time.process_time() - t)),
        "objective": round(engine.objective, 3),
    }
    t0 = engine.start_temperature() / 200
    for i, kind in enumerate(MOVE_NAMES):
        weights = np.zeros(len(MOVE_WEIGHTS))
        weights[i] = 1.0
        t = time.process_time()
        engine.anneal(moves // 4, 2 + i, walkers=1, weights=weights, t0=t0, t1=t0)
        row[kind] = round(moves // 4 / (time.process_time() - t))
    return row


def write(rows: list[dict[str, Any]], out: Path, note: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = ["problem", "visits", "mixed", "objective", *MOVE_NAMES]
    with (out / "moves.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    lines = [note, "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    (out / "moves.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--agencies", nargs="*", default=["small", "medium", "large"], choices=SIZES)
    ap.add_argument("--mankowska", nargs="*", default=["D2"])
    ap.add_argument("--moves", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args(argv)
    note = (
        f"{time.strftime('%Y-%m-%d %H:%M')}: moves a CPU second, {args.moves:,} mixed from the "
        f"construction (seed 1, one walker), then {args.moves // 4:,} of each kind alone"
    )
    rows = []
    for name, data in _problems(args.agencies, args.mankowska):
        rows.append(measure(name, data, args.moves))
        write(rows, args.out, note)
        print(rows[-1], flush=True)


if __name__ == "__main__":
    main()
