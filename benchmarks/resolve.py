"""Sick calls on the medium agency: the re-solve against a from-scratch solve of the same week.

Usage::

    python -m benchmarks.resolve [--base-time 60] [--scratch-time 30] [--resolve-time 5]
                                 [--out benchmarks/results]

One base rota of the bundled medium agency is solved first (the "published" rota). Then, for
each absence below, the same situation (the absence written into the problem) is answered twice:

* by ``resolve`` (frozen past, minimal change), timed from the call to the rota;
* by ``solve`` from scratch, which may re-plan the whole week, the past included.

Reported per case: wall seconds, visits whose crew or start changed other than the absent
workers' own (``changed``), that count against the absent workers' visits (``ratio``), staffed
visits and the objective, all from the independent checker. Five one-day absences give the
median wall time. Writes ``resolve.csv`` and ``resolve.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections import Counter
from datetime import date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from solver.changes import changes
from solver.checker import check
from solver.contract import Problem, Rota
from solver.options import SolveOptions
from solver.resolve import Absence, ResolveOptions, apply_absences, resolve
from solver.solve import solve

MEDIUM = Path(__file__).resolve().parents[1] / "scenarios" / "medium.json"


def _at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, clock(hh, mm))


def _busiest(rota: Rota, day: date, role: str, problem: Problem, skip: set[str]) -> list[str]:
    roles = {w.id: w.role for w in problem.workers}
    n = Counter(
        w
        for a in rota.assignments
        if a.start.date() == day
        for w in a.workers
        if roles[w] == role and w not in skip
    )
    return [w for w, _ in n.most_common()]


def cases(problem: Problem, rota: Rota) -> list[tuple[str, list[Absence], datetime]]:
    """The absences measured: five one-day ones, and one of each other kind."""
    days = problem.period.days()
    out: list[tuple[str, list[Absence], datetime]] = []
    for i, day in enumerate(days[1:6], start=1):
        w = _busiest(rota, day, "carer", problem, set())[0]
        out.append(
            (f"one carer, {day:%a}", [Absence(w, _at(day, 0), _at(day, 23, 59))], _at(day, 6, 10))
        )
        if i == 1:
            rest = Absence(w, _at(day, 12), _at(days[-1], 23, 59))
            out.append((f"one carer, {day:%a} 12:00 to the end", [rest], _at(day, 12)))
    thu = days[3]
    pair = _busiest(rota, thu, "carer", problem, set())[:2]
    out.append(
        (
            f"two carers, {thu:%a} morning",
            [Absence(w, _at(thu, 6), _at(thu, 13)) for w in pair],
            _at(thu, 6),
        )
    )
    fri = days[4]
    k = _busiest(rota, fri, "coordinator", problem, set())
    if k:
        out.append(
            (
                f"a coordinator, {fri:%a}",
                [Absence(k[0], _at(fri, 0), _at(fri, 23, 59))],
                _at(fri, 6),
            )
        )
    return out


def _changed_others(before: Rota, after: Rota, problem: Problem, absent: set[str]) -> int:
    """Visits whose crew or start changed, other than those the absent workers were on."""
    own = {a.visit for a in before.assignments if absent & set(a.workers)}
    own |= {cv.visit for cv in before.coordinator_visits if cv.coordinator in absent}
    changed = {c.visit for c in changes(before, after, problem).visits}
    return len(changed - own)


def run(base_time: float, scratch_time: float, resolve_time: float) -> list[dict[str, Any]]:
    problem = Problem.model_validate_json(MEDIUM.read_text())
    base = solve(problem, SolveOptions(time_limit=base_time, seed=1, workers=1))
    rows = []
    for i, (name, absences, now) in enumerate(cases(problem, base)):
        absent = {a.worker for a in absences}
        situation = apply_absences(problem, base, absences, now)
        t0 = time.monotonic()
        done = resolve(situation, base, now, ResolveOptions(time_limit=resolve_time, seed=0))
        wall = time.monotonic() - t0
        rep = check(situation, done.rota)
        assert rep.ok, rep.breaches[:3]
        others = _changed_others(base, done.rota, situation, absent)
        row: dict[str, Any] = {
            "case": name,
            "one_day": name.startswith("one carer") and "end" not in name,
            "absent_visits": len(done.orphaned),
            "resolve_s": round(wall, 2),
            "changed": others,
            "ratio": round(others / max(1, len(done.orphaned)), 2),
            "staffed": rep.metrics["visits_assigned"],
            "objective": round(rep.objective, 1),
        }
        # From scratch for the first one-day absence and each other kind (the rest of the
        # one-day absences only feed the median wall time).
        if i == 0 or not row["one_day"]:
            t0 = time.monotonic()
            scratch = solve(situation, SolveOptions(time_limit=scratch_time, seed=1, workers=1))
            row["scratch_s"] = round(time.monotonic() - t0, 2)
            srep = check(situation, scratch)
            assert srep.ok, srep.breaches[:3]
            row["scratch_changed"] = _changed_others(base, scratch, situation, absent)
            row["scratch_staffed"] = srep.metrics["visits_assigned"]
            row["scratch_objective"] = round(srep.objective, 1)
        rows.append(row)
        print(row, flush=True)
    return rows


COLUMNS = (
    "case",
    "absent_visits",
    "resolve_s",
    "changed",
    "ratio",
    "staffed",
    "objective",
    "scratch_s",
    "scratch_changed",
    "scratch_staffed",
    "scratch_objective",
)


def write(rows: list[dict[str, Any]], out: Path, args: argparse.Namespace) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "resolve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["one_day", *COLUMNS])
        writer.writeheader()
        writer.writerows(rows)
    one_day = [r["resolve_s"] for r in rows if r["one_day"]]
    lines = [
        "# Sick calls on the medium agency",
        "",
        f"Base rota: {args.base_time:g} s solve (seed 1, one worker). Re-solve limit "
        f"{args.resolve_time:g} s; from scratch {args.scratch_time:g} s. `changed`: visits whose "
        "crew or start changed other than the absent workers' own; `ratio`: that over the absent "
        "workers' visits. Every rota passed the checker.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |")
    lines += [
        "",
        f"Median re-solve wall time over {len(one_day)} one-day absences: "
        f"{statistics.median(one_day):.2f} s (max {max(one_day):.2f} s).",
    ]
    (out / "resolve.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-time", type=float, default=60.0)
    ap.add_argument("--scratch-time", type=float, default=30.0)
    ap.add_argument("--resolve-time", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    write(run(args.base_time, args.scratch_time, args.resolve_time), args.out, args)


if __name__ == "__main__":
    main()
