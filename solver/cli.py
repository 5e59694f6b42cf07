"""The ``carerota`` command line: solve, check, generate, demo and schema."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import BaseModel, ValidationError

from solver.checker import check, format_report
from solver.contract import Problem, Rota, parse_local_datetime
from solver.explain import explain, format_explanation
from solver.solve import SolveOptions, solve

EXIT_INVALID = 2
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


class ProgressLine:
    """A single progress line on stderr, rewritten on every improvement."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.used = False

    def __call__(self, elapsed: float, objective: float, bound: float) -> None:
        if not self.enabled:
            return
        gap = (objective - bound) / objective * 100 if objective > 0 else 0.0
        sys.stderr.write(
            f"\r  {elapsed:6.1f}s  objective {objective:12.1f}  bound {bound:12.1f}"
            f"  gap {gap:5.1f}%"
        )
        sys.stderr.flush()
        self.used = True

    def close(self) -> None:
        if self.used:
            sys.stderr.write("\n")


def _solve(problem: Problem, args: argparse.Namespace) -> Rota:
    progress = ProgressLine(not args.quiet)
    try:
        return solve(
            problem,
            SolveOptions(
                time_limit=args.time_limit,
                seed=args.seed,
                workers=args.workers,
                effort=args.effort,
                method=args.method,
                log=args.log,
            ),
            progress,
        )
    finally:
        progress.close()


def cmd_solve(args: argparse.Namespace) -> int:
    problem = load(args.problem, Problem)
    rota = _solve(problem, args)
    write_json(args.output, rota.model_dump(mode="json", exclude_none=True))
    m = rota.metrics
    if m is not None and args.output != "-":
        print(
            f"{rota.status}: {m.visits_assigned}/{m.visits_total} visits staffed, "
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


def cmd_generate(args: argparse.Namespace) -> int:
    from scenarios.generator import generate

    if args.clients < 1:
        raise InputError(f"--clients must be at least 1, not {args.clients}")
    if args.days < 1:
        raise InputError(f"--days must be at least 1, not {args.days}")
    problem = generate(args.clients, args.seed, start=args.start, days=args.days)
    write_json(args.output, problem)
    return 0


def summary(problem: Problem, rota: Rota) -> str:
    """A coordinator's summary of a rota."""
    m = rota.metrics
    assert m is not None
    report = check(problem, rota)
    visit_day = {v.id: v.earliest_start.date() for v in problem.visits}
    lines = [
        f"{problem.agency}: {problem.period.start} to {problem.period.end}, "
        f"{len(problem.workers)} workers, {len(problem.clients)} clients",
        f"Status {rota.status}, objective {rota.objective:.1f} (bound {rota.best_bound})",
        f"Staffed {m.visits_assigned} of {m.visits_total} visits "
        f"({m.visits_assigned / max(1, m.visits_total):.1%})",
        f"Travel between visits {m.travel_minutes / 60:.1f} h; carers' visit time "
        f"{sum(r.visit_minutes for r in rota.routes) / 60:.1f} h",
        f"Continuity: {m.mean_distinct_workers_per_client:.2f} distinct workers per client, "
        f"{m.familiar_visit_share:.1%} of visits by familiar carers",
    ]
    due = sum(1 for v in rota.violations if v.rule == "coordinator_monthly_visit")
    lines.append(
        f"Coordinator rule: {len(rota.coordinator_visits)} coordinator visits, "
        f"{due} required visits missing"
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
        + ("every hard rule holds" if report.ok else f"{len(report.breaches)} breaches!")
    )
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    text = resources.files("scenarios").joinpath("small.json").read_text(encoding="utf-8")
    problem = Problem.model_validate_json(text)
    rota = _solve(problem, args)
    print(summary(problem, rota))
    if args.output:
        write_json(args.output, rota.model_dump(mode="json", exclude_none=True))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    model = Problem if args.which == "problem" else Rota
    write_json(args.output, model.model_json_schema())
    return 0


class VariantBar:
    """A text progress bar on stderr for a scenario's variants, redrawn twice a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.used = False

    def __call__(self, done: int, total: int, elapsed: float, expected: float) -> None:
        if not self.enabled:
            return
        # Between finishes the bar creeps with the clock, never quite to the end.
        share = max(done / total, min(0.99, elapsed / expected) if expected > 0 else 0.0)
        filled = round(30 * share)
        sys.stderr.write(
            f"\r  [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} variants solved"
            f"  {elapsed:5.0f} s of about {expected:.0f} s"
        )
        sys.stderr.flush()
        self.used = True

    def close(self) -> None:
        if self.used:
            sys.stderr.write("\n")


def cmd_whatif(args: argparse.Namespace) -> int:
    from scenarios.report import format_text, write_report
    from scenarios.whatif import ScenarioError, load_scenario, run_scenario

    if args.time_limit is not None and args.time_limit <= 0:
        raise InputError(f"--time-limit must be above 0, not {args.time_limit}")
    bar = VariantBar(not args.quiet)
    try:
        scenario = load_scenario(args.scenario)
        comparison = run_scenario(scenario, args.time_limit, args.processes, bar)
    except ScenarioError as exc:
        raise InputError(str(exc)) from None
    finally:
        bar.close()
    print(format_text(comparison))
    if args.output:
        written = write_report(comparison, args.output)
        print(f"report: {len(written)} files in {args.output}", file=sys.stderr)
    return 0 if all(v.checker_ok for v in comparison.variants) else 1


def cmd_caseload(args: argparse.Namespace) -> int:
    from scenarios.caseload import CaseloadError, caseload, format_caseload

    if args.time_limit <= 0 or args.month_days < 1:
        raise InputError("--time-limit must be above 0 and --month-days at least 1")
    problem = load(args.problem, Problem)
    try:
        answer = caseload(
            problem, args.coordinator, args.caseload, args.time_limit, args.month_days
        )
    except CaseloadError as exc:
        raise InputError(f"--coordinator: {exc}") from None
    if args.json:
        write_json("-", answer.model_dump(mode="json"))
    else:
        print(format_caseload(answer))
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from scenarios.report import diff_csv, diff_rotas, format_diff, read_variant

    if Path(args.first).is_dir():
        try:
            before_problem, before = read_variant(args.first, args.second)
            after_problem, after = read_variant(args.first, args.third)
        except (FileNotFoundError, ValidationError, json.JSONDecodeError) as exc:
            raise InputError(str(exc)) from None
    else:
        before_problem = after_problem = load(args.first, Problem)
        before, after = load(args.second, Rota), load(args.third, Rota)
    changes = diff_rotas(before_problem, before, after_problem, after)
    if args.csv:
        sys.stdout.write(diff_csv(changes))
    else:
        print(format_diff(changes, limit=None if args.all else 40))
    return 0


def _moment(text: str, what: str) -> datetime:
    try:
        return parse_local_datetime(text)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def cmd_resolve(args: argparse.Namespace) -> int:
    """Re-staff an absent worker's visits in a published rota, changing as little as possible."""
    from solver.changes import format_changes
    from solver.resolve import Absence, ResolveError, ResolveOptions, apply_absences, resolve

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
    absences = [Absence(w, start, end, args.reason) for w in args.absent]
    try:
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
    print(format_changes(done.changes))
    print(
        f"{len(done.orphaned)} visits orphaned, {len(done.changes.visits)} changed, "
        f"{done.frozen} frozen before {now:%a %d %b %H:%M}; objective {done.rota.objective}; "
        f"checker: {'ok' if report.ok else f'{len(report.breaches)} breaches'}; "
        f"{done.elapsed:.1f} s",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def _solve_options(p: argparse.ArgumentParser, time_limit: float) -> None:
    p.add_argument(
        "--time-limit",
        type=float,
        default=time_limit,
        metavar="SECONDS",
        help=f"search time in seconds (default {time_limit:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same rota)")
    p.add_argument("--workers", type=int, default=2, help="CP-SAT search workers (default 2)")
    p.add_argument(
        "--effort",
        type=float,
        metavar="UNITS",
        help="stop after this much CP-SAT deterministic time: the same rota on any "
        "machine, however busy (default: 0.6 units per second of --time-limit)",
    )
    p.add_argument(
        "--method",
        choices=("cpsat", "heuristic"),
        default="cpsat",
        help="cpsat: CP-SAT optimiser warm-started by the heuristic (default); "
        "heuristic: the construction heuristic alone",
    )
    p.add_argument("--log", action="store_true", help="print CP-SAT's search log on stderr")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="carerota",
        description="Rota optimisation for home-care "
        "agencies: continuity, travel and the coordinator rule.",
    )
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="solve PROBLEM.json into a rota")
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("-o", "--output", default="-", metavar="ROTA.json", help="default: stdout")
    _solve_options(p, 30.0)
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
    p.add_argument("--workers", type=int, default=1, help="CP-SAT search workers (default 1)")
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
    p = sub.add_parser("generate", help="generate a realistic sample agency")
    p.add_argument("--clients", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 11, 30),
        help="first day of the period (default 2026-11-30)",
    )
    p.add_argument("--days", type=int, default=7)
    p.add_argument("-o", "--output", default="-", metavar="PROBLEM.json")
    p.set_defaults(run=cmd_generate)
    p = sub.add_parser("demo", help="solve the bundled sample agency and print a summary")
    p.add_argument("-o", "--output", metavar="ROTA.json", help="also write the rota")
    _solve_options(p, 10.0)
    p.set_defaults(run=cmd_demo)
    p = sub.add_parser("schema", help="print the JSON Schema of the problem or the rota")
    p.add_argument("which", choices=("problem", "rota"))
    p.add_argument("-o", "--output", default="-")
    p.set_defaults(run=cmd_schema)
    p = sub.add_parser("whatif", help="solve a what-if scenario's variants side by side")
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="per variant (default: the file's)"
    )
    p.add_argument("-o", "--output", metavar="REPORT_DIR", help="write the report here")
    p.add_argument("--processes", type=int, default=2, help="variants solved at once (default 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_whatif)
    p = sub.add_parser("caseload", help="how many clients a coordinator can oversee a month")
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("--coordinator", required=True, metavar="K")
    p.add_argument(
        "--caseload",
        type=int,
        nargs="+",
        metavar="M",
        help="caseloads to find the field time for (default: the current one and two larger)",
    )
    p.add_argument("--time-limit", type=float, default=5.0, help="seconds per solve (default 5)")
    p.add_argument("--month-days", type=int, default=30, help="days in a month (default 30)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.set_defaults(run=cmd_caseload)
    p = sub.add_parser(
        "diff",
        help="visits that changed worker or time: PROBLEM.json ROTA_A.json ROTA_B.json, "
        "or REPORT_DIR VARIANT_A VARIANT_B",
    )
    p.add_argument("first", metavar="PROBLEM.json|REPORT_DIR")
    p.add_argument("second", metavar="ROTA_A.json|VARIANT_A")
    p.add_argument("third", metavar="ROTA_B.json|VARIANT_B")
    p.add_argument("--all", action="store_true", help="list every changed visit")
    p.add_argument("--csv", action="store_true", help="CSV, one changed visit a line")
    p.set_defaults(run=cmd_diff)
    from api.cli import add_commands  # the service: serve, worker, agency

    add_commands(sub)
    return top


def fail(message: str) -> NoReturn:
    print(f"carerota: error: {message}", file=sys.stderr)
    sys.exit(EXIT_INVALID)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except InputError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print("carerota: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
