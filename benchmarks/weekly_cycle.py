"""The weekly cycle of the sample agency, as an office runs it: four weeks planned in a row.

Usage::

    python -m benchmarks.weekly_cycle [--weeks 4] [--time-limit 30] [--out benchmarks/results]

The sample agency's spreadsheets (``scenarios/sample_agency/agency.xlsx``: 150 clients, 70
carers, 3 coordinators, two weeks of history) are read as an import would read them; each week
from 4 January 2027 is planned from the records (:func:`scenarios.planning.week_problem`, as
``POST /v1/plans`` and ``carerota plan`` do), solved with ``solve()``, checked by the independent
checker (a breach stops the run) and published, so it is the next week's history. Reported per
week with :func:`benchmarks.continuity.row`'s columns (faces per client over the week, 14 and 28
days, history included; familiar share) and the share of carer visits by someone who saw the same
client the week before. Writes ``weekly_cycle.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from benchmarks.continuity import row
from scenarios.sample_agency import weekly_cycle
from solver.contract import Problem, Rota
from solver.options import SolveOptions
from solver.solve import solve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []

    def solve_week(body: dict[str, Any]) -> dict[str, Any]:
        problem = Problem.model_validate(body)
        began = time.perf_counter()
        rota: Rota = solve(problem, SolveOptions(time_limit=args.time_limit, seed=0))
        seconds = time.perf_counter() - began
        rows.append(row(150, str(len(rows) + 1), "default", problem, rota, seconds))
        dumped: dict[str, Any] = rota.model_dump(mode="json", exclude_none=True)
        return dumped

    results = weekly_cycle(solve_week, weeks=args.weeks)
    lines = [
        "| week of | staffed | travel | faces/week | faces/14 d | faces/28 d | familiar "
        "| kept from the week before | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result, r in zip(results, rows, strict=True):
        kept = "" if result.kept_share is None else f"{result.kept_share:.1%}"
        lines.append(
            f"| {result.week} | {r['staffed']}/{r['visits']} | {r['travel']:,} "
            f"| {r['faces_week']:.2f} | {r['faces_14d']:.2f} | {r['faces_28d']:.2f} "
            f"| {r['familiar']:.1%} | {kept} | {r['seconds']:.0f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "weekly_cycle.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
