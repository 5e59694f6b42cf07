"""Ten sick calls on the medium agency: the engine's re-solve against the previous design's and
against a from-scratch solve.

Usage::

    python -m benchmarks.sickcall [--base-time 60] [--scratch-time 30] [--resolve-time 5]
                                  [--cases 10] [--out benchmarks/results]

The bundled medium agency is solved once (the "published" rota; seed 1, one worker). Each case
is one carer off for one whole day, rung in at 06:10 that day: the days run Tuesday to Sunday and
round again, and each case takes the busiest carer of its day not already taken, so the choice
is the same on every run. Each situation (the absence written into the problem) is answered
three ways, every rota checked by the independent checker:

* ``resolve`` with the engine (the default), timed from the call to the rota;
* ``resolve`` with ``method="cpsat"``: the construction and CP-SAT neighbourhoods alone;
* ``solve`` from scratch for ``--scratch-time`` seconds, which may re-plan the whole week.

Reported per case: the orphaned visits, how many of them each answer staffs (re-staffed), the
visits other than the absent carer's whose crew or start changed, the objective (the checker's)
and the wall seconds. Writes ``sickcall.csv`` and ``sickcall.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.resolve import MEDIUM, _at, _busiest, _changed_others
from solver.checker import check
from solver.contract import Problem, Rota
from solver.options import SolveOptions
from solver.resolve import Absence, ResolveOptions, apply_absences, resolve
from solver.solve import solve


def cases(problem: Problem, rota: Rota, n: int) -> list[tuple[str, Absence, datetime]]:
    """``n`` one-day absences of distinct carers, Tuesday to Sunday and round again."""
    days: list[date] = problem.period.days()[1:]
    taken: set[str] = set()
    out = []
    for i in range(n):
        day = days[i % len(days)]
        carer = _busiest(rota, day, "carer", problem, taken)[0]
        taken.add(carer)
        absence = Absence(carer, _at(day, 0), _at(day, 23, 59))
        out.append((f"{carer}, {day:%a}", absence, _at(day, 6, 10)))
    return out


def _answer(
    situation: Problem, base: Rota, rota: Rota, orphaned: set[str], absent: str
) -> dict[str, Any]:
    report = check(situation, rota)
    assert report.ok, report.breaches[:3]
    staffed = {a.visit for a in rota.assignments}
    return {
        "restaffed": len(orphaned & staffed),
        "changed": _changed_others(base, rota, situation, {absent}),
        "objective": round(report.objective, 1),
    }


def _engine_stages(stages: list[str]) -> tuple[int, bool]:
    """CP-SAT neighbourhoods run after the engine, and whether one of them lowered the cost."""
    after = [line for line in stages if line.startswith(("near ", "wide "))]
    annealed = next(line for line in stages if line.startswith("engine annealing"))
    start = float(annealed.rsplit(" ", 1)[1])
    end = float(after[-1].rsplit(" ", 1)[1]) if after and "skipped" not in after[-1] else start
    return len(after), end < start - 1e-6


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    problem = Problem.model_validate_json(MEDIUM.read_text())
    base = solve(problem, SolveOptions(time_limit=args.base_time, seed=1, workers=1))
    rows = []
    for name, absence, now in cases(problem, base, args.cases):
        situation = apply_absences(problem, base, [absence], now)
        row: dict[str, Any] = {"case": name}
        for method in ("engine", "cpsat"):
            opts = ResolveOptions(time_limit=args.resolve_time, seed=0, workers=1, method=method)
            t0 = time.monotonic()
            done = resolve(situation, base, now, opts)
            wall = time.monotonic() - t0
            orphaned = set(done.orphaned)
            row["orphans"] = len(orphaned)
            got = _answer(situation, base, done.rota, orphaned, absence.worker)
            row |= {f"{method}_{k}": v for k, v in got.items()}
            row[f"{method}_s"] = round(wall, 2)
            if method == "engine":
                row["cpsat_steps"], row["cpsat_helped"] = _engine_stages(done.stages)
        t0 = time.monotonic()
        scratch = solve(situation, SolveOptions(time_limit=args.scratch_time, seed=1, workers=1))
        row["scratch_s"] = round(time.monotonic() - t0, 2)
        got = _answer(situation, base, scratch, orphaned, absence.worker)
        row |= {f"scratch_{k}": v for k, v in got.items()}
        rows.append(row)
        print(row, flush=True)
    return rows


COLUMNS = (
    "case",
    "orphans",
    "engine_s",
    "engine_restaffed",
    "engine_changed",
    "engine_objective",
    "cpsat_steps",
    "cpsat_helped",
    "cpsat_s",
    "cpsat_restaffed",
    "cpsat_changed",
    "cpsat_objective",
    "scratch_s",
    "scratch_restaffed",
    "scratch_changed",
    "scratch_objective",
)


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with (out / "sickcall.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)

    def total(key: str) -> int:
        return sum(int(r[key]) for r in rows)

    engine = [r["engine_s"] for r in rows]
    cpsat = [r["cpsat_s"] for r in rows]
    lines = [
        "# Sick calls on the medium agency: the engine's re-solve",
        "",
        f"`python -m benchmarks.sickcall --base-time {args.base_time:g} "
        f"--scratch-time {args.scratch_time:g} --resolve-time {args.resolve_time:g} "
        f"--cases {args.cases}`, {datetime.now():%Y-%m-%d %H:%M}, {platform.node()} "
        f"({os.cpu_count()} cores, shared with other work; load average "
        f"{os.getloadavg()[0]:.1f} at the end).",
        "",
        f"Base rota: {args.base_time:g} s solve (seed 1, one worker). Each case: one carer off "
        "for the day, rung in at 06:10. Re-solve limit "
        f"{args.resolve_time:g} s (seed 0); from scratch {args.scratch_time:g} s (seed 1). "
        "`restaffed`: orphaned visits staffed; `changed`: other visits whose crew or start "
        "changed; `cpsat_steps`: CP-SAT neighbourhoods run after the engine (`cpsat_helped`: "
        "one lowered the cost). Every rota passed the checker.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    lines += [
        "",
        f"Re-solve wall time, engine: median {statistics.median(engine):.2f} s, max "
        f"{max(engine):.2f} s; previous design (CP-SAT): median {statistics.median(cpsat):.2f} s, "
        f"max {max(cpsat):.2f} s.",
        "",
        f"Orphans re-staffed over {len(rows)} cases ({total('orphans')} orphans): engine "
        f"{total('engine_restaffed')}, previous design {total('cpsat_restaffed')}, "
        f"{args.scratch_time:g} s from scratch {total('scratch_restaffed')}. Other visits "
        f"changed: engine {total('engine_changed')}, previous design {total('cpsat_changed')}, "
        f"from scratch {total('scratch_changed')}.",
    ]
    (out / "sickcall.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-time", type=float, default=60.0)
    ap.add_argument("--scratch-time", type=float, default=30.0)
    ap.add_argument("--resolve-time", type=float, default=5.0)
    ap.add_argument("--cases", type=int, default=10)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    write(run(args), args)


if __name__ == "__main__":
    main()
