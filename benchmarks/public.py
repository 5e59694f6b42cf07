"""carerota on the public benchmarks of the field, against published results and peer solvers.

Usage::

    python -m benchmarks.public --set mankowska [--instances A B1 C3] [--time-limit 60]
        [--workers 1] [--seed 0] [--peers pyvrp ortools] [--data DIR] [--out benchmarks/results]

Sets: ``mankowska`` (A1..G10), ``kummer`` (Porto Alegre, by file stem), ``italian`` (Ceschia et
al.), ``solomon`` (C101..RC208; ``--peers`` runs PyVRP and OR-Tools routing on the same
uncapacitated problem), ``agencies`` (generated agencies without double-ups, ``--instances
small:1``; peers see travel only). ``--instances`` takes names or shell patterns (``'A*'`` is
set A, ``'R1*'`` every R1 instance); without it the whole set runs. Every rota, ours and the
peers', is judged by the independent checker and the figures are the checker's. Rows are
appended to ``public_<set>.csv`` as they finish (a rerun replaces an instance's row);
``public_<set>.md`` is
rewritten from the CSV after every instance, with a summary per set.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from solver.checker import check
from solver.contract import Problem, Rota
from solver.importers import benchdata_dir, import_problem
from solver.options import DTIME_PER_SECOND, MOVES_PER_SECOND, SolveOptions
from solver.solve import solve

# Published tables are rounded to 0.1: within half of that a result matches.
MATCH = 0.05
MANKOWSKA_SETS = {"A": 10, "B": 25, "C": 50, "D": 75, "E": 100, "F": 200, "G": 300}
# (column, metric in published.csv, heading)
MANKOWSKA_METHODS = (
    ("cplex2h", "cplex2h_final_solution", "CPLEX 2 h"),
    ("brkga_mp_ipr", "brkga_mp_ipr_best_obj", "BRKGA-MP-IPR"),
    ("lasfargeas2019", "lasfargeas2019_best_obj", "Lasfargeas 2019"),
    ("mankowska2014", "mankowska2014_best_obj", "Mankowska 2014 AVNS"),
)
CESCHIA = (("ceschia_mnsa", "ceschia2024_mnsa_best_total_cost", "Ceschia MNSA"),)
KUMMER_METHODS = (("kummer_ga", "ga_upper_bound", "Kummer GA"), *CESCHIA)


@dataclass(frozen=True)
class Case:
    """One instance to solve: its name, how to build it, and the published numbers."""

    name: str
    load: Callable[[], Problem]
    best_known: float | None
    lower_bound: float | None
    published: dict[str, float]


def _published(path: Path, key: str) -> dict[str, dict[str, float]]:
    """metric -> value per instance; a metric listed twice (D9) keeps its smallest value."""
    out: dict[str, dict[str, float]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                value = float(row["value"])
            except ValueError:
                continue
            seen = out.setdefault(row[key], {})
            seen[row["metric"]] = min(value, seen.get(row["metric"], math.inf))
    return out


def _wanted(name: str, wanted: list[str] | None) -> bool:
    return wanted is None or any(fnmatch.fnmatchcase(name, w) for w in wanted)


def mankowska_cases(root: Path, wanted: list[str] | None) -> Iterator[Case]:
    pub = _published(root / "mankowska2014" / "published.csv", "instance")
    for letter, patients in MANKOWSKA_SETS.items():
        for k in range(1, 11):
            name = f"{letter}{k}"
            if not _wanted(name, wanted):
                continue
            kind = "CPLEX" if patients <= 75 else "VNS"
            path = root / "mankowska2014" / "instances" / f"Instanz{kind}_HCSRP_{patients}_{k}.txt"
            p = pub.get(name, {})
            yield Case(
                name,
                lambda path=path: import_problem("mankowska", path),  # type: ignore[misc]
                p.get("best_known_upper_bound_derived"),
                p.get("best_known_lower_bound_derived"),
                {col: p[metric] for col, metric, _ in MANKOWSKA_METHODS if metric in p},
            )


def json_cases(root: Path, folder: str, instances: str, wanted: list[str] | None) -> Iterator[Case]:
    pub = _published(root / folder / "published.csv", "instance")
    methods = KUMMER_METHODS if folder == "kummer2021" else CESCHIA
    for path in sorted((root / folder / instances).glob("*.json")):
        if not _wanted(path.stem, wanted):
            continue
        p = pub.get(path.stem, {})
        known = [p[m] for _, m, _ in methods if m in p]
        yield Case(
            path.stem,
            lambda path=path: import_problem("hhcrsp-json", path),  # type: ignore[misc]
            min(known) if known else None,
            p.get("lp_relaxation_lower_bound"),
            {col: p[metric] for col, metric, _ in methods if metric in p},
        )


def solomon_cases(root: Path, wanted: list[str] | None) -> Iterator[Case]:
    pub = _published(root / "solomon1987" / "published.csv", "instance")
    for path in sorted((root / "solomon1987" / "instances").glob("*.txt")):
        if not _wanted(path.stem, wanted):
            continue
        p = pub.get(path.stem, {})
        yield Case(
            path.stem,
            lambda path=path: import_problem("solomon", path),  # type: ignore[misc]
            # The capacitated problem's best distance: an upper bound on the uncapacitated one.
            p.get("bks_distance_only_objective"),
            None,
            {},
        )


def agency_cases(wanted: list[str] | None, continuity: bool) -> Iterator[Case]:
    from benchmarks.peers import single_agency

    for spec in wanted or ["small:1", "small:2"]:
        size, seed = spec.split(":")
        name = spec if continuity else f"{spec} travel only"
        load = partial(single_agency, size, int(seed), continuity=continuity)
        yield Case(name, load, None, None, {})


# How far past the time limit a reproducible run may go on a busy machine before the clock stops it.
WALL_SLACK = 4.0


def run_case(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Solve one case (and its peers), check every rota, and return its table row."""
    problem = case.load()
    t0 = time.monotonic()
    if args.reproducible:
        # The search work of the time limit on an idle core, however busy this machine is; the
        # clock only stops a run that takes WALL_SLACK times as long.
        options = SolveOptions(
            time_limit=WALL_SLACK * args.time_limit,
            seed=args.seed,
            workers=args.workers,
            effort=DTIME_PER_SECOND * args.time_limit,
            moves=int(MOVES_PER_SECOND * args.time_limit),
        )
    else:
        options = SolveOptions(time_limit=args.time_limit, seed=args.seed, workers=args.workers)
    rota = solve(problem, options)
    elapsed = time.monotonic() - t0
    row: dict[str, Any] = {
        "instance": case.name,
        **_measure("ours", problem, rota),
        "time_s": elapsed,
    }
    row["status"] = rota.status
    ours = row["ours"]
    if case.best_known is not None and ours is not None:
        row["best_known"] = case.best_known
        row["gap_pct"] = (ours - case.best_known) / case.best_known * 100
    if case.lower_bound is not None:
        row["lower_bound"] = case.lower_bound
    row.update(case.published)
    for peer in args.peers:
        from benchmarks.peers import PEERS

        t0 = time.monotonic()
        peer_rota = PEERS[peer](problem, args.time_limit, args.seed)
        row[f"{peer}_time_s"] = time.monotonic() - t0
        row.update(_measure(peer, problem, peer_rota))
        if row.get(peer) and ours is not None:
            row[f"ours/{peer}"] = ours / row[peer]
            row[f"travel ours/{peer}"] = row["ours_travel"] / max(row[f"{peer}_travel"], 1e-9)
    return row


def _measure(tag: str, problem: Problem, rota: Rota) -> dict[str, Any]:
    report = check(problem, rota)
    m = report.metrics
    return {
        tag: report.objective if report.ok else None,
        f"{tag}_ok": report.ok,
        f"{tag}_staffed": f"{int(m['visits_assigned'])}/{int(m['visits_total'])}",
        # Travel including the depot legs: the routing papers' distance.
        f"{tag}_travel": m["travel_minutes"] + m.get("home_travel_minutes", 0.0),
        f"{tag}_distinct": m["mean_distinct_workers_per_client"],
    }


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def save(rows: list[dict[str, Any]], path: Path) -> None:
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})


def _cell(value: Any) -> Any:
    return f"{value:.3f}" if isinstance(value, float) else value


def _num(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _fmt(value: str | None, digits: int = 1) -> str:
    x = _num(value)
    return "" if x is None else f"{x:,.{digits}f}"


def markdown(rows: list[dict[str, str]], set_name: str, note: str) -> str:
    """The table and the per-set summary, from the CSV rows."""
    methods = {
        "mankowska": MANKOWSKA_METHODS,
        "kummer": KUMMER_METHODS,
        "italian": CESCHIA,
    }.get(set_name, ())
    peers = [p for p in ("pyvrp", "ortools") if any(p in r for r in rows)]
    head = ["instance", "visits staffed", "ours", "best known", "gap %", "lower bound"]
    head += [h for _, _, h in methods]
    if set_name in ("solomon", "agencies"):
        head += ["our travel", "our distinct/client"]
        for p in peers:
            head += [f"{p} travel", f"{p} distinct/client", f"{p} objective", f"travel ours/{p}"]
    head += ["time s", "checked"]
    lines = [note, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["instance"], r.get("ours_staffed", ""), _fmt(r.get("ours"), 2)]
        cells += [
            _fmt(r.get("best_known"), 2),
            _fmt(r.get("gap_pct"), 2),
            _fmt(r.get("lower_bound")),
        ]
        cells += [_fmt(r.get(col)) for col, _, _ in methods]
        if set_name in ("solomon", "agencies"):
            cells += [_fmt(r.get("ours_travel")), _fmt(r.get("ours_distinct"), 2)]
            for p in peers:
                cells += [_fmt(r.get(f"{p}_travel")), _fmt(r.get(f"{p}_distinct"), 2)]
                cells += [_fmt(r.get(p), 1), _fmt(r.get(f"travel ours/{p}"), 3)]
        peers_ok = all(r.get(f"{p}_ok") in (None, "", "True") for p in peers)
        ok = r.get("ours_ok") == "True" and peers_ok
        cells += [_fmt(r.get("time_s"), 0), "yes" if ok else "NO"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *summary(rows, set_name, methods, peers)]
    return "\n".join(lines) + "\n"


def summary(
    rows: list[dict[str, str]],
    set_name: str,
    methods: tuple[tuple[str, str, str], ...],
    peers: list[str],
) -> list[str]:
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        key = r["instance"][0] if set_name == "mankowska" else "all"
        groups.setdefault(key, []).append(r)
    head = ["set", "instances", "mean gap %", "max gap %", "matched best known"]
    head += [f"≤ {h}" for _, _, h in methods] + [f"mean travel ours/{p}" for p in peers]
    out = ["Summary (a result matches a published one within 0.05, the tables' rounding):", ""]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, group in groups.items():
        gaps = [g for g in (_num(r.get("gap_pct")) for r in group) if g is not None]
        cells = [key, str(len(group))]
        cells += [
            f"{sum(gaps) / len(gaps):.2f}" if gaps else "",
            f"{max(gaps):.2f}" if gaps else "",
        ]
        cells.append(_count(group, "best_known"))
        cells += [_count(group, col) for col, _, _ in methods]
        for p in peers:
            ratios = [x for x in (_num(r.get(f"travel ours/{p}")) for r in group) if x is not None]
            cells.append(f"{sum(ratios) / len(ratios):.3f}" if ratios else "")
        out.append("| " + " | ".join(cells) + " |")
    return out


def _count(group: list[dict[str, str]], col: str) -> str:
    pairs = [(_num(r.get("ours")), _num(r.get(col))) for r in group]
    known = [(a, b) for a, b in pairs if a is not None and b is not None]
    return f"{sum(a <= b + MATCH for a, b in known)}/{len(known)}" if known else ""


def cases(args: argparse.Namespace, root: Path | None) -> Iterator[Case]:
    if args.set == "agencies":
        yield from agency_cases(args.instances, not args.travel_only)
        return
    if root is None:
        raise SystemExit("no benchmark data: give --data or set CAREROTA_BENCHDATA")
    if args.set == "mankowska":
        yield from mankowska_cases(root, args.instances)
    elif args.set == "kummer":
        yield from json_cases(root, "kummer2021", "instances_json", args.instances)
    elif args.set == "italian":
        yield from json_cases(root, "ceschia2024_italian", "instances", args.instances)
    else:
        yield from solomon_cases(root, args.instances)


def main(argv: list[str] | None = None) -> None:
    """Run the chosen set and write ``public_<set>.csv`` and ``.md``."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--set", required=True, choices=["mankowska", "kummer", "italian", "solomon", "agencies"]
    )
    ap.add_argument("--instances", nargs="*", default=None)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--peers", nargs="*", default=[], choices=["pyvrp", "ortools"])
    ap.add_argument("--data", type=Path, default=None, help="benchdata folder")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--note", default="", help="a line above the table (machine, date, limits)")
    ap.add_argument(
        "--reproducible",
        action="store_true",
        help="give our solver the CP-SAT effort of --time-limit on an idle core (0.6 units a "
        "second) instead of the wall clock: the same rotas on a busy machine",
    )
    ap.add_argument(
        "--travel-only",
        action="store_true",
        help="agencies: new and unfamiliar faces cost nothing, so we are asked for travel alone, "
        "as the peers are",
    )
    args = ap.parse_args(argv)
    root = args.data.resolve() if args.data else benchdata_dir()
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / f"public_{args.set}.csv"
    rows = _read(csv_path)
    for case in cases(args, root):
        row = run_case(case, args)
        row["time_limit_s"] = args.time_limit
        print(
            f"{case.name}: ours {_fmt(_cell(row.get('ours')), 2)} best {case.best_known} "
            f"gap {_fmt(_cell(row.get('gap_pct')), 2)}% in {row['time_s']:.0f}s",
            flush=True,
        )
        fresh = {k: _cell(v) for k, v in row.items()}
        rows = [r for r in rows if r["instance"] != case.name] + [fresh]
        save(rows, csv_path)
        rows = _read(csv_path)
        (args.out / f"public_{args.set}.md").write_text(
            markdown(rows, args.set, args.note), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
