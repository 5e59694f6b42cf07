"""The solver's commands: ``solve``, ``import``, ``resolve``, ``check``, ``explain``, ``schema``.

Also the helpers every command module shares (reading and writing JSON, one-line input errors,
the progress line). :mod:`carerota.cli` assembles the ``carerota`` command line from this
module, :mod:`scenarios.cli` and :mod:`api.cli`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from solver.checker import check, format_report
from solver.contract import Problem, Rota, parse_local_datetime
from solver.explain import explain, format_explanation
from solver.options import MOVES_PER_SECOND, Figures, SolveOptions
from solver.solve import solve
from solver.words import plural

M = TypeVar("M", bound=BaseModel)


class InputError(Exception):
    """Bad input, reported as one line and exit code 2."""


def format_loc(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe(error: ValidationError, limit: int = 3) -> str:
    """A validation error as one line: the first few field paths and messages."""
    items = error.errors(include_url=False)
    parts = []
    for item in items[:limit]:
        msg = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{format_loc(item['loc'])}: {msg}")
    more = f" (and {len(items) - limit} more)" if len(items) > limit else ""
    return "; ".join(parts) + more


def load(path: str, model: type[M]) -> M:
    what = model.__name__.lower()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if not text.strip():
        raise InputError(f"{path}: the file is empty")
    try:
        # Read as the service reads a body: pydantic's JSON reader also refuses what Python's
        # accepts but cannot be written back out, such as a lone UTF-16 surrogate in an id.
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        if first["type"] == "json_invalid":
            raise InputError(f"{path}: not JSON: {first['ctx']['error']}") from None
        raise InputError(f"{path}: invalid {what}: {describe(exc)}") from None


def write_json(path: str, payload: Any) -> None:
    text = json.dumps(payload, indent=1, ensure_ascii=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from None


class StatusLine:
    """Progress on stderr: one line rewritten in place on a terminal; elsewhere (a log file, a
    pipe) whole lines, at most one every ``every`` seconds, so they never run together."""

    def __init__(self, enabled: bool, every: float = 5.0) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.every = every
        self.used = False
        self._last = -every

    def show(self, text: str, *, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write(f"\r{text}\x1b[K")
        elif final or time.monotonic() - self._last >= self.every:
            sys.stderr.write(f"{text}\n")
            self._last = time.monotonic()
        sys.stderr.flush()
        self.used = True

    def close(self) -> None:
        if self.used and self.tty:
            sys.stderr.write("\n")


class ProgressLine(StatusLine):
    """The search's progress in words: the best rota so far's visits staffed, carers per client
    and travel where the search reports them; else its cost and how far it may still be from
    the best possible."""

    def __call__(
        self, elapsed: float, objective: float, bound: float, figures: Figures | None = None, /
    ) -> None:
        if figures is not None:
            self.show(
                f"  {elapsed:6.1f} s: best rota so far staffs {figures.visits_staffed:,} of "
                f"{plural(figures.visits_total, 'visit')}, "
                f"{figures.carers_per_client:.1f} carers per client, "
                f"{plural(round(figures.travel_minutes), 'minute')} of travel"
            )
            return
        gap = (objective - bound) / objective * 100 if objective > 0 else 0.0
        self.show(
            f"  {elapsed:6.1f} s: best rota so far costs {objective:,.0f}, "
            f"at most {gap:.1f}% above the best possible"
        )


def options_of(args: argparse.Namespace) -> SolveOptions:
    return SolveOptions(
        time_limit=args.time_limit,
        seed=args.seed,
        workers=args.workers,
        effort=args.effort,
        moves=args.moves,
        method=args.method,
        log=args.log,
        teams=args.teams,
    )


def start_of(args: argparse.Namespace) -> Rota | None:
    """``--start``'s rota, moved on ``--start-days`` days, or None."""
    if args.start is None:
        if args.start_days:
            raise InputError("--start-days moves the rota --start names: give --start ROTA.json")
        return None
    from solver.weeks import moved_on

    return moved_on(load(args.start, Rota), args.start_days)


def solve_with_progress(
    problem: Problem, args: argparse.Namespace, start: Rota | None = None
) -> Rota:
    progress = ProgressLine(not args.quiet)
    try:
        return solve(problem, options_of(args), progress, start=start)
    finally:
        progress.close()


def cmd_solve_weeks(problem: Problem, args: argparse.Namespace) -> int:
    """``--weeks N``: N weeks in a row, each week's rota and problem (its history grown by the
    weeks before) written beside ``-o`` as ``NAME.weekK.json`` and ``NAME.weekK.problem.json``."""
    from solver.weeks import solve_weeks

    if args.output == "-":
        raise InputError("--weeks writes one rota per week: give -o ROTA.json")
    out = Path(args.output)

    def written(k: int, week: Problem, rota: Rota) -> None:
        path = out.with_name(f"{out.stem}.week{k}.json")
        write_json(str(path), rota.model_dump(mode="json", exclude_none=True))
        write_json(
            str(out.with_name(f"{out.stem}.week{k}.problem.json")),
            week.model_dump(mode="json", exclude_none=True),
        )
        m = rota.metrics
        if m is not None and m.continuity is not None:
            print(
                f"week {k} ({week.period.start}): {m.visits_assigned}/{m.visits_total} visits "
                f"staffed, {m.continuity.faces_per_client_week:.2f} carers per client, "
                f"{m.continuity.faces_per_client_14_days:.2f} over 14 days, written to {path}",
                file=sys.stderr,
            )

    options = options_of(args)
    try:
        solve_weeks(problem, args.weeks, options, on_week=written)
    except ValueError as exc:
        raise InputError(f"{args.problem}: {exc}") from None
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    problem = load(args.problem, Problem)
    if args.weeks != 1:
        if args.start is not None:
            raise InputError("--weeks starts each week from the week before: leave out --start")
        return cmd_solve_weeks(problem, args)
    rota = solve_with_progress(problem, args, start_of(args))
    write_json(args.output, rota.model_dump(mode="json", exclude_none=True))
    m = rota.metrics
    if m is not None and args.output != "-":
        faces = (
            f", {m.continuity.faces_per_client_week:.2f} carers per client a week"
            if m.continuity is not None
            else ""
        )
        print(
            f"{rota.status}: {m.visits_assigned}/{m.visits_total} visits staffed{faces}, "
            f"objective {rota.objective}, written to {args.output}",
            file=sys.stderr,
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """A public benchmark instance (and, with --solution, a published solution) in the contract."""
    from solver.importers import import_problem, import_solution
    from solver.importers.hhcrsp import FormatError

    try:
        if args.solution is None:
            problem, rota = import_problem(args.format, args.file), None
        else:
            problem, rota = import_solution(args.format, args.file, args.solution)
    except OSError as exc:
        raise InputError(f"{exc.filename}: cannot read: {exc.strerror}") from None
    except FormatError as exc:
        place = args.file if exc.line is None else f"{args.file}:{exc.line}"
        raise InputError(f"{place}: not a {args.format} instance: {exc}") from None
    except ValidationError as exc:
        # Read, but what it says makes no problem (a window that closes before it opens).
        raise InputError(
            f"{args.file}: not a {args.format} instance we can use: {describe(exc)}"
        ) from None
    except (ValueError, KeyError, IndexError) as exc:
        raise InputError(f"{args.file}: not a {args.format} instance: {exc}") from None
    write_json(args.output, problem.model_dump(mode="json", exclude_none=True))
    if rota is not None:
        report = check(problem, rota)
        rota.objective = report.objective
        write_json(args.rota, rota.model_dump(mode="json", exclude_none=True))
        print(f"solution: objective {report.objective:.3f}", file=sys.stderr)
        print(format_report(report), file=sys.stderr)
        return 0 if report.ok else 1
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    problem = load(args.problem, Problem)
    rota = load(args.rota, Rota)
    report = check(problem, rota)
    print(format_report(report))
    return 0 if report.ok else 1


def cmd_explain(args: argparse.Namespace) -> int:
    problem = load(args.problem, Problem)
    rota = load(args.rota, Rota)
    print(format_explanation(explain(problem, rota, top=args.top)))
    return 0


def summary(problem: Problem, rota: Rota) -> str:
    """A coordinator's summary of a rota."""
    m = rota.metrics
    assert m is not None
    report = check(problem, rota)
    visit_day = {v.id: v.earliest_start.date() for v in problem.visits}
    lines = [
        f"{problem.agency}: {problem.period.start} to {problem.period.end}, "
        f"{plural(len(problem.workers), 'worker')}, {plural(len(problem.clients), 'client')}",
        f"Status {rota.status}, objective {rota.objective:.1f} (bound {rota.best_bound})",
        f"Staffed {m.visits_assigned:,} of {plural(m.visits_total, 'visit')} "
        f"({m.visits_assigned / max(1, m.visits_total):.1%})",
        f"Travel between visits {m.travel_minutes / 60:.1f} h; carers' visit time "
        f"{sum(r.visit_minutes for r in rota.routes) / 60:.1f} h",
        f"Continuity: {m.mean_distinct_workers_per_client:.2f} distinct workers per client, "
        f"{m.familiar_visit_share:.1%} of visits by familiar carers",
    ]
    due = sum(1 for v in rota.violations if v.rule == "coordinator_monthly_visit")
    lines.append(
        f"Coordinator rule: {plural(len(rota.coordinator_visits), 'coordinator visit')}, "
        f"{plural(due, 'required visit')} missing"
    )
    for v in rota.violations[:5]:
        lines.append(f"  - {v.coordinator} / {v.client} ({v.month}): {v.detail}")
    if rota.unassigned:
        days = Counter(visit_day[u.visit] for u in rota.unassigned)
        lines.append(
            f"Unstaffed ({len(rota.unassigned)}): "
            + ", ".join(f"{d:%a %d %b} {n}" for d, n in sorted(days.items()))
        )
        for u in rota.unassigned[:8]:
            lines.append(f"  {u.visit}: {u.reason}")
        if len(rota.unassigned) > 8:
            lines.append(f"  ... and {len(rota.unassigned) - 8} more in the rota's 'unassigned'")
    lines.append(
        "Independent check: "
        + (
            "every hard rule holds"
            if report.ok
            else f"{plural(len(report.breaches), 'breach', 'breaches')}!"
        )
    )
    return "\n".join(lines)


def cmd_schema(args: argparse.Namespace) -> int:
    model = Problem if args.which == "problem" else Rota
    write_json(args.output, model.model_json_schema())
    return 0


def _moment(text: str, what: str) -> datetime:
    try:
        return parse_local_datetime(text)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def cmd_resolve(args: argparse.Namespace) -> int:
    """Re-staff an absent worker's visits in a published rota, changing as little as possible."""
    from solver.changes import format_changes
    from solver.resolve import (
        Absence,
        ResolveError,
        ResolveOptions,
        admit_absence,
        apply_absences,
        resolve,
    )

    problem = load(args.problem, Problem)
    before = load(args.rota, Rota)
    start, end = _moment(args.start, "--from"), _moment(args.end, "--to")
    now = (
        _moment(args.now, "--now")
        if args.now
        else datetime.now(problem.zone).replace(tzinfo=None, second=0, microsecond=0)
    )
    counts: dict[str, int] = {}
    if args.cover_counts:
        try:
            counts = {
                str(k): int(v) for k, v in json.loads(Path(args.cover_counts).read_text()).items()
            }
        except (OSError, ValueError, AttributeError) as exc:
            raise InputError(
                f"{args.cover_counts}: not a JSON object of worker: count ({exc})"
            ) from None
    absences = []
    try:
        for worker in args.absent:
            absence, note = admit_absence(problem, Absence(worker, start, end, args.reason), now)
            if note:
                print(f"carerota: {worker}: {note}", file=sys.stderr)
            absences.append(absence)
        situation = apply_absences(problem, before, absences, now)
    except ResolveError as exc:
        raise InputError(str(exc)) from None
    done = resolve(
        situation,
        before,
        now,
        ResolveOptions(
            time_limit=args.time_limit,
            seed=args.seed,
            workers=args.workers,
            change_penalty=args.change_penalty,
            max_change_ratio=args.max_change_ratio,
            cover_counts=counts,
            log=args.log,
        ),
    )
    write_json(args.output, done.rota.model_dump(mode="json", exclude_none=True))
    if args.problem_out:
        write_json(args.problem_out, situation.model_dump(mode="json", exclude_none=True))
    report = check(situation, done.rota)
    print(format_changes(done.changes, situation))
    print(
        f"{plural(len(done.orphaned), 'visit')} orphaned, {len(done.changes.visits):,} changed, "
        f"{done.frozen} frozen before {now:%a %d %b %H:%M}; objective {done.rota.objective}; "
        f"checker: {'ok' if report.ok else plural(len(report.breaches), 'breach', 'breaches')}; "
        f"{done.elapsed:.1f} s",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def add_solve_options(p: argparse.ArgumentParser, time_limit: float) -> None:
    p.add_argument(
        "--time-limit",
        type=float,
        default=time_limit,
        metavar="SECONDS",
        help=f"search time in seconds (default {time_limit:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same rota)")
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="cores a solve uses: CP-SAT search workers and engine walkers (default 2)",
    )
    p.add_argument(
        "--effort",
        type=float,
        metavar="UNITS",
        help="stop after this much CP-SAT deterministic time: the same rota on any "
        "machine, however busy (default: 0.6 units per second of --time-limit)",
    )
    p.add_argument(
        "--moves",
        type=int,
        metavar="N",
        help="stop the route engine after N move evaluations: the same rota on any machine "
        f"(default: {MOVES_PER_SECOND:,} per second of --time-limit, or as many as --effort "
        "stands for)",
    )
    p.add_argument(
        "--method",
        choices=("engine", "cpsat", "heuristic"),
        default="engine",
        help="engine: the route engine, then CP-SAT on what is left (default); "
        "cpsat: CP-SAT's neighbourhood search alone, warm-started by the heuristic; "
        "heuristic: the construction heuristic alone",
    )
    p.add_argument(
        "--teams",
        action="store_true",
        help="plan each client's care team first and let it guide the route engine; the rota "
        "then lists the teams (takes seconds to a minute more; see docs/continuity.md)",
    )
    p.add_argument("--log", action="store_true", help="print CP-SAT's search log on stderr")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def add_commands(sub: Any) -> None:
    """Register ``solve``, ``import``, ``resolve``, ``check``, ``explain`` and ``schema``."""
    p = sub.add_parser("solve", help="solve PROBLEM.json into a rota")
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("-o", "--output", default="-", metavar="ROTA.json", help="default: stdout")
    p.add_argument(
        "--weeks",
        type=int,
        default=1,
        metavar="N",
        help="plan N weeks in a row from a 7-day PROBLEM, each with the weeks before as history; "
        "writes ROTA.weekK.json and ROTA.weekK.problem.json",
    )
    p.add_argument(
        "--start",
        metavar="ROTA.json",
        help="begin from this rota (last week's, say), where it beats a fresh construction",
    )
    p.add_argument(
        "--start-days",
        type=int,
        default=0,
        metavar="N",
        help="move --start's visits on N days first (7: last week's rota for this week)",
    )
    add_solve_options(p, 30.0)
    p.set_defaults(run=cmd_solve)
    p = sub.add_parser("import", help="a public benchmark instance as PROBLEM.json")
    p.add_argument("format", choices=("mankowska", "hhcrsp-json", "solomon"))
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", default="-", metavar="PROBLEM.json")
    p.add_argument("--solution", metavar="FILE", help="a published solution to convert and check")
    p.add_argument("-r", "--rota", default="-", metavar="ROTA.json", help="where --solution goes")
    p.set_defaults(run=cmd_import)
    p = sub.add_parser(
        "resolve",
        help="re-staff an absent worker's visits in ROTA.json, changing as little as possible",
    )
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("rota", metavar="ROTA.json", help="the published rota to repair")
    p.add_argument(
        "--absent",
        action="append",
        required=True,
        metavar="WORKER",
        help="the absent worker's id (repeat for several)",
    )
    p.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="DATETIME",
        help="start of the absence, local YYYY-MM-DDTHH:MM",
    )
    p.add_argument(
        "--to",
        dest="end",
        required=True,
        metavar="DATETIME",
        help="end of the absence, local YYYY-MM-DDTHH:MM",
    )
    p.add_argument(
        "--now",
        metavar="DATETIME",
        help="visits started before this are frozen (default: the agency's time now)",
    )
    p.add_argument("--reason", default="", help="why (sick, leave...), kept with the absence")
    p.add_argument(
        "--change-penalty",
        type=float,
        default=500.0,
        metavar="UNITS",
        help="objective cost of each other visit whose crew or start changes (default 500)",
    )
    p.add_argument(
        "--max-change-ratio",
        type=float,
        default=1.5,
        metavar="R",
        help="at most R other visits change per orphaned visit (default 1.5)",
    )
    p.add_argument(
        "--cover-counts",
        metavar="FILE.json",
        help="times each worker was already asked to cover this month, {worker: n}",
    )
    p.add_argument("-o", "--output", default="-", metavar="NEW_ROTA.json")
    p.add_argument(
        "--problem-out",
        metavar="PROBLEM.json",
        help="also write the problem with the absence applied (check the rota with it)",
    )
    p.add_argument(
        "--time-limit",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds for the whole re-solve (default 5)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="cores: CP-SAT workers and engine walkers (default 1)",
    )
    p.add_argument("--log", action="store_true", help="print CP-SAT's search log on stderr")
    p.set_defaults(run=cmd_resolve)
    p = sub.add_parser("check", help="check ROTA.json against PROBLEM.json (exit 1 on a breach)")
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("rota", metavar="ROTA.json")
    p.set_defaults(run=cmd_check)
    p = sub.add_parser("explain", help="the objective of ROTA.json by term, and costly clients")
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("rota", metavar="ROTA.json")
    p.add_argument("--top", type=int, default=10, help="clients to list (default 10)")
    p.set_defaults(run=cmd_explain)
    p = sub.add_parser("schema", help="print the JSON Schema of the problem or the rota")
    p.add_argument("which", choices=("problem", "rota"))
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(run=cmd_schema)
