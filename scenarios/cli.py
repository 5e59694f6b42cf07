"""The scenario commands: ``generate``, ``demo``, ``whatif``, ``caseload`` and ``diff``.

:func:`add_commands` registers them on the ``carerota`` command line (:mod:`carerota.cli`).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from solver.cli import (
    InputError,
    StatusLine,
    add_solve_options,
    load,
    solve_with_progress,
    summary,
    write_json,
)
from solver.contract import Problem, Rota
from solver.words import plural


def cmd_generate(args: argparse.Namespace) -> int:
    from scenarios.generator import generate

    if args.clients < 1:
        raise InputError(f"--clients must be at least 1, not {args.clients}")
    if args.days < 1:
        raise InputError(f"--days must be at least 1, not {args.days}")
    problem = generate(args.clients, args.seed, start=args.start, days=args.days)
    write_json(args.output, problem)
    if args.output != "-":
        period = problem["period"]
        print(
            f"carerota: wrote {args.output}: {plural(len(problem['clients']), 'client')}, "
            f"{plural(len(problem['workers']), 'worker')}, "
            f"{plural(len(problem['visits']), 'visit')}, "
            f"{period['start']} to {period['end']}",
            file=sys.stderr,
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.cycle:
        return _demo_cycle(args)
    text = resources.files("scenarios").joinpath("small.json").read_text(encoding="utf-8")
    problem = Problem.model_validate_json(text)
    rota = solve_with_progress(problem, args)
    print(summary(problem, rota))
    if args.output:
        write_json(args.output, rota.model_dump(mode="json", exclude_none=True))
    return 0


def _demo_cycle(args: argparse.Namespace) -> int:
    """The weekly cycle on the sample agency's spreadsheets: plan two weeks in a row."""
    from scenarios.sample_agency import weekly_cycle

    def solve(problem: dict[str, Any]) -> dict[str, Any]:
        rota = solve_with_progress(Problem.model_validate(problem), args)
        dumped: dict[str, Any] = rota.model_dump(mode="json", exclude_none=True)
        return dumped

    for result in weekly_cycle(solve, weeks=2):
        kept = (
            ""
            if result.kept_share is None
            else (
                f", {result.kept_share:.0%} of carer visits by someone who saw the client last week"
            )
        )
        print(
            f"week of {result.week:%a %d %b %Y}: {result.staffed}/{result.visits} visits staffed, "
            f"{result.faces_per_client:.1f} carers per client, "
            f"{result.familiar_share:.0%} by a familiar carer{kept}"
        )
    return 0


class VariantBar(StatusLine):
    """A text progress bar on stderr for a scenario's variants (whole lines when stderr is not a
    terminal)."""

    def __call__(self, done: int, total: int, elapsed: float, expected: float) -> None:
        # Between finishes the bar creeps with the clock, never quite to the end.
        share = max(done / total, min(0.99, elapsed / expected) if expected > 0 else 0.0)
        filled = round(30 * share)
        self.show(
            f"  [{'#' * filled}{'.' * (30 - filled)}] {done}/{plural(total, 'variant')} solved"
            f"  {elapsed:5.0f} s of about {expected:.0f} s",
            final=done == total,
        )


def cmd_whatif(args: argparse.Namespace) -> int:
    from scenarios.report import format_text, write_report
    from scenarios.whatif import ScenarioError, load_scenario, run_scenario

    if args.time_limit is not None and args.time_limit <= 0:
        raise InputError(f"--time-limit must be above 0, not {args.time_limit}")
    bar = VariantBar(not args.quiet)
    try:
        scenario = load_scenario(args.scenario)
        if args.from_scratch:
            scenario = scenario.model_copy(update={"mode": "from_scratch"})
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


def add_commands(sub: Any) -> None:
    """Register ``generate``, ``demo``, ``whatif``, ``caseload`` and ``diff``."""
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
    p.add_argument(
        "--cycle",
        action="store_true",
        help="the weekly cycle instead: the sample agency's spreadsheets, two weeks planned in a "
        "row, the first week's rota as the second's history",
    )
    add_solve_options(p, 10.0)
    p.set_defaults(run=cmd_demo)
    p = sub.add_parser("whatif", help="solve a what-if scenario's variants side by side")
    p.add_argument("scenario", metavar="SCENARIO.yaml")
    p.add_argument(
        "--time-limit", type=float, metavar="SECONDS", help="per variant (default: the file's)"
    )
    p.add_argument("-o", "--output", metavar="REPORT_DIR", help="write the report here")
    p.add_argument("--processes", type=int, default=2, help="variants solved at once (default 2)")
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="solve every variant on its own instead of re-planning it from the base rota",
    )
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
