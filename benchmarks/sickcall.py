"""Ten sick calls on the medium agency: the engine's re-solve against the previous design's and
against a from-scratch solve.

Usage::

    python -m benchmarks.sickcall [--base-time 60] [--scratch-time 30] [--resolve-time 5]
                                  [--cases 10] [--out benchmarks/results]

The bundled medium agency is solved once (the "published" rota; seed 1, one worker, at the
reproducible effort of ``--base-time`` seconds, so every run starts from the same rota). Each case
is one carer off for one whole day, rung in at 06:10 that day: the days run Tuesday to Sunday and
round again, and each case takes the busiest carer of its day not already taken, so the choice
is the same on every run. Each situation (the absence written into the problem) is answered
nine ways, every rota checked by the independent checker:

* ``engine``: ``resolve`` as it is by default (the route engine), timed from the call to the rota;
* ``norepair``: the same without the repair after the annealing (``repair=False``);
* ``held``: the same with every kept start held (``release=False``): no second engine pass
  with kept starts free to come forward;
* ``walkers2``: the same with two walkers (``workers=2``, the service's setting);
* ``intensified``: the same with ``intensify=True`` (CP-SAT after the engine);
* ``cpsat``: ``resolve`` with ``method="cpsat"``, the previous design (construction and CP-SAT
  neighbourhoods);
* ``cap2``, ``cap3``: the default with the office's limit on other visits changed loosened
  from 1.5 to 2 and 3 a visit orphaned (``max_change_ratio``): what the limit costs in orphans;
* ``scratch``: ``solve`` from scratch for ``--scratch-time`` seconds, which may re-plan the whole
  week, the past included.

Reported per case: the orphaned visits, how many of them each answer staffs (re-staffed), how
many of all the week's visits it staffs, the visits other than the absent carer's whose crew or
start changed, the objective (the checker's), the wall seconds and, for the re-solves, the
process's CPU seconds. Writes ``sickcall.csv`` and ``sickcall.md`` into ``--out``.
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
from solver.options import DTIME_PER_SECOND, MOVES_PER_SECOND, SolveOptions
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
        "staffed": len(staffed),
        "changed": _changed_others(base, rota, situation, {absent}),
        "objective": round(report.objective, 1),
    }


# The re-solves measured: name and options beyond the time limit and seed.
VARIANTS: dict[str, dict[str, Any]] = {
    "engine": {},
    "norepair": {"repair": False},
    "held": {"release": False},
    "walkers2": {"workers": 2},
    "intensified": {"intensify": True},
    "cpsat": {"method": "cpsat"},
    # The office's own limit on phone calls, loosened: what the cap costs in orphans.
    "cap2": {"max_change_ratio": 2.0},
    "cap3": {"max_change_ratio": 3.0},
}
# How the summary lines name them.
LABELS = {
    "engine": "engine",
    "norepair": "without the repair",
    "held": "starts held",
    "walkers2": "two walkers",
    "intensified": "intensified",
    "cpsat": "previous design",
    "cap2": "change cap 2 a visit",
    "cap3": "change cap 3 a visit",
}


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    problem = Problem.model_validate_json(MEDIUM.read_text())
    # The base rota at a fixed effort, so every run of this benchmark starts from the same one.
    base = solve(
        problem,
        SolveOptions(
            time_limit=4 * args.base_time,
            seed=1,
            workers=1,
            effort=DTIME_PER_SECOND * args.base_time,
            moves=int(MOVES_PER_SECOND * args.base_time),
        ),
    )
    rows = []
    for name, absence, now in cases(problem, base, args.cases):
        situation = apply_absences(problem, base, [absence], now)
        row: dict[str, Any] = {"case": name}
        for variant, extra in VARIANTS.items():
            base_opts = {"time_limit": args.resolve_time, "seed": 0, "workers": 1}
            opts = ResolveOptions(**(base_opts | extra))
            t0, cpu0 = time.monotonic(), time.process_time()
            done = resolve(situation, base, now, opts)
            wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
            orphaned = set(done.orphaned)
            row["orphans"] = len(orphaned)
            got = _answer(situation, base, done.rota, orphaned, absence.worker)
            row |= {f"{variant}_{k}": v for k, v in got.items()}
            row[f"{variant}_s"] = round(wall, 2)
            row[f"{variant}_cpu"] = round(cpu, 2)
        t0 = time.monotonic()
        scratch = solve(situation, SolveOptions(time_limit=args.scratch_time, seed=1, workers=1))
        row["scratch_s"] = round(time.monotonic() - t0, 2)
        got = _answer(situation, base, scratch, orphaned, absence.worker)
        row |= {f"scratch_{k}": v for k, v in got.items()}
        rows.append(row)
        print(row, flush=True)
    return rows


MEASURES = ("s", "cpu", "restaffed", "staffed", "changed", "objective")
COLUMNS = (
    "case",
    "orphans",
    *(f"{v}_{m}" for v in VARIANTS for m in MEASURES),
    *(f"scratch_{m}" for m in MEASURES if m != "cpu"),
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

    def walls(variant: str) -> str:
        values = [r[f"{variant}_s"] for r in rows]
        cpu = [r[f"{variant}_cpu"] for r in rows]
        return (
            f"median {statistics.median(values):.2f} s, max {max(values):.2f} s "
            f"(CPU: median {statistics.median(cpu):.2f} s, max {max(cpu):.2f} s)"
        )

    lines = [
        "# Sick calls on the medium agency: the engine's re-solve",
        "",
        f"`python -m benchmarks.sickcall --base-time {args.base_time:g} "
        f"--scratch-time {args.scratch_time:g} --resolve-time {args.resolve_time:g} "
        f"--cases {args.cases}`, {datetime.now():%Y-%m-%d %H:%M}, {platform.node()} "
        f"({os.cpu_count()} cores, shared with other work; load average "
        f"{os.getloadavg()[0]:.1f} at the end).",
        "",
        f"Base rota: the reproducible effort of a {args.base_time:g} s solve (seed 1, one worker). "
        "Each case: one carer off "
        "for the day, rung in at 06:10. Re-solve limit "
        f"{args.resolve_time:g} s (seed 0); from scratch {args.scratch_time:g} s (seed 1). "
        "`engine`: the default re-solve, one walker; `norepair`: the same without the repair "
        "after the annealing; `held`: the same with every kept start held (no second pass "
        "with kept starts free to come forward); `walkers2`: the same with two walkers (the "
        "service's setting); `intensified`: with CP-SAT after the engine; `cpsat`: "
        "the previous design; `scratch`: a from-scratch solve. `s`: wall seconds; `cpu`: the "
        "process's CPU seconds (the machine is shared, so wall time includes waiting); "
        "`restaffed`: orphaned visits staffed; `staffed`: all the week's visits staffed (a "
        "from-scratch solve may staff an orphan by leaving another visit unstaffed); "
        "`changed`: other visits whose crew or start "
        "changed; `objective`: the contract's, from the checker. Every rota passed the checker.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in COLUMNS) + " |" for r in rows]
    lines += [
        "",
        "Re-solve wall time: " + "; ".join(f"{LABELS[v]} {walls(v)}" for v in VARIANTS) + ".",
        "",
        f"Orphans re-staffed over {len(rows)} cases ({total('orphans')} orphans): "
        + ", ".join(f"{LABELS[v]} {total(f'{v}_restaffed')}" for v in VARIANTS)
        + f", {args.scratch_time:g} s from scratch {total('scratch_restaffed')}. "
        "All visits staffed: "
        + ", ".join(f"{LABELS[v]} {total(f'{v}_staffed')}" for v in VARIANTS)
        + f", from scratch {total('scratch_staffed')}. Other visits changed: "
        + ", ".join(f"{LABELS[v]} {total(f'{v}_changed')}" for v in VARIANTS)
        + f", from scratch {total('scratch_changed')}.",
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
