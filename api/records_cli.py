"""The records' commands: ``carerota records import|template`` and ``carerota plan``.

They work on the service's database (``--database-url``, else ``$DATABASE_URL``), for an agency
named with ``--agency``: ``records import`` brings spreadsheets into its records exactly as
``POST /v1/imports`` does, and ``plan`` builds a week from them and solves it as a rota job, as
``POST /v1/plans`` does, then waits for it (a running ``carerota serve`` may solve it instead).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Literal

from api.cli_options import database_option, input_error, settings_from
from solver.words import plural

_SHEETS = ("carers", "clients", "packages", "history")


def _open(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """(settings, database, agency id) for ``--agency``."""
    from sqlalchemy import select

    from api.db import Agency, Database, migrate

    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    with db.read() as s:
        agency_id = s.scalar(select(Agency.id).where(Agency.name == args.agency))
    if agency_id is None:
        db.dispose()
        raise input_error(f"no agency called {args.agency!r} ('carerota agency create' makes one)")
    return settings, db, agency_id


def cmd_import(args: argparse.Namespace) -> int:
    """Import CSV files or XLSX workbooks into the agency's records, all or nothing."""
    from api.records import apply_import
    from scenarios.spreadsheets import Parsed, SpreadsheetError, read_file

    merged = Parsed()
    errors: list[Any] = []
    for name in args.files:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise input_error(f"{name}: cannot read it: {e.strerror}") from None
        try:
            parsed = read_file(path.name, data, args.sheet)
        except SpreadsheetError as e:
            errors.extend(e.errors)
            continue
        for sheet in parsed.sheets:
            if sheet in merged.sheets:
                raise input_error(f"{name}: a second {sheet} sheet; give each kind once")
            merged.sheets.append(sheet)
            getattr(merged, sheet).extend(getattr(parsed, sheet))
        merged.rows.update(parsed.rows)
    if not errors:
        _, db, agency_id = _open(args)
        try:
            with db.write() as s:
                report = apply_import(s, agency_id, merged, dry_run=args.dry_run)
        except SpreadsheetError as e:
            errors.extend(e.errors)
        finally:
            db.dispose()
    if errors:
        for error in errors[:-1]:
            print(f"carerota: error: {error}", file=sys.stderr)
        raise input_error(f"{errors[-1]} (nothing was imported: {len(errors)} error(s))")
    verb = "would" if args.dry_run else "did"
    for label, changes in (("add", report.added), ("change", report.changed)):
        for c in changes:
            print(f"{label}\t{c.kind}\t{c.id}\t{c.name or ''}")
    for c in report.removed:
        print(f"remove\t{c.kind}\t{c.id}\t{c.name or ''}")
    print(
        f"carerota: {args.agency}: {verb} add {len(report.added)}, change {len(report.changed)}, "
        f"remove {len(report.removed)} record(s), leave {report.unchanged} as they were, "
        f"and add {report.history_added} past visit(s)",
        file=sys.stderr,
    )
    return 0


def cmd_template(args: argparse.Namespace) -> int:
    """Write an empty sheet with the header and an example row."""
    from scenarios.spreadsheets import template

    fmt: Literal["csv", "xlsx"] = "xlsx" if args.output.endswith(".xlsx") else "csv"
    sheet = None if args.sheet == "agency" else args.sheet
    if sheet is None and fmt == "csv":
        raise input_error("the agency template is a workbook: give an -o ending in .xlsx")
    Path(args.output).write_bytes(template(sheet, fmt))
    print(f"carerota: wrote {args.output}", file=sys.stderr)
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    """Build a week from the agency's records, solve it as a rota job and print a summary."""
    from sqlalchemy import select

    from api.db import FINAL_STATES, Job, RotaVersion
    from api.deps import AgencyRef
    from api.errors import ApiError
    from api.jobs import run_job
    from api.routers.common import publish_version
    from api.routers.plans import PlanRequest, build, create_plan_job
    from api.schemas import SolveOptionsIn

    try:
        week = date.fromisoformat(args.week)
    except ValueError:
        raise input_error(f"--week {args.week!r} is not a date (YYYY-MM-DD)") from None
    settings, db, agency_id = _open(args)
    try:
        options = SolveOptionsIn(time_limit=args.time_limit, seed=args.seed, method=args.method)
        request = PlanRequest(week=week, area=args.area, timezone=args.timezone, options=options)
        try:
            problem, start, seconds = build(db, AgencyRef(agency_id, args.agency, ""), request)
            # Run here by run_job below: no pool to hand it to (a server may still claim it).
            rota_id = create_plan_job(
                db, settings, agency_id, problem, options, args.area, 1, start
            )
        except ApiError as e:
            raise input_error(e.message) from None
        print(
            f"carerota: {args.agency}: week of {week}{' in ' + args.area if args.area else ''}: "
            f"{plural(len(problem.visits), 'visit')}, {plural(len(problem.workers), 'worker')}, "
            f"{plural(len(problem.history.visits), 'past visit')} (built in {seconds:.2f} s); "
            f"solving as {rota_id}",
            file=sys.stderr,
        )
        if args.problem_out:
            Path(args.problem_out).write_text(problem.model_dump_json(indent=1, exclude_none=True))
        run_job(db, settings, rota_id)
        while True:  # a running server may have claimed it first
            with db.read() as s:
                status = s.scalar(select(Job.status).where(Job.id == rota_id))
            if status in FINAL_STATES:
                break
            time.sleep(0.5)
        with db.read() as s:
            version = s.execute(
                select(RotaVersion.rota, RotaVersion.check_ok).where(RotaVersion.id == rota_id)
            ).one_or_none()
        if version is None:
            raise input_error(f"the plan's solve ended {status} without a rota")
        rota = json.loads(version.rota)
        if args.output:
            Path(args.output).write_text(json.dumps(rota, indent=1))
        staffed, total = rota["metrics"]["visits_assigned"], rota["metrics"]["visits_total"]
        familiar = rota["metrics"]["familiar_visit_share"]
        print(
            f"{rota_id}\t{staffed}/{total} visits staffed\t"
            f"{familiar:.0%} of visits by a familiar carer"
        )
        if args.publish:
            if not version.check_ok:
                raise input_error(f"{rota_id} breaks a hard rule; it was not published")
            publish_version(db, agency_id, rota_id)
            print(f"carerota: published {rota_id}", file=sys.stderr)
    finally:
        db.dispose()
    return 0


def add_commands(sub: Any) -> None:
    """Register ``records import``, ``records template`` and ``plan``."""
    p = sub.add_parser("records", help="the agency's records: import spreadsheets, templates")
    records = p.add_subparsers(dest="records_command", required=True)
    q = records.add_parser("import", help="import CSV/XLSX carers, clients, packages or history")
    q.add_argument("files", nargs="+", metavar="FILE", help="carers.csv ... or agency.xlsx")
    q.add_argument("--agency", required=True, metavar="NAME")
    q.add_argument("--sheet", choices=_SHEETS, help="what a CSV holds, if its name does not say")
    q.add_argument("--dry-run", action="store_true", help="say what would change; write nothing")
    database_option(q)
    q.set_defaults(run=cmd_import)
    q = records.add_parser("template", help="write a sheet to fill in (docs/import.md)")
    q.add_argument("sheet", choices=(*_SHEETS, "agency"))
    q.add_argument("-o", "--output", required=True, metavar="FILE", help=".csv or .xlsx")
    q.set_defaults(run=cmd_template)

    p = sub.add_parser("plan", help="plan a week from the agency's records and solve it")
    p.add_argument("--week", required=True, metavar="YYYY-MM-DD", help="the week's first day")
    p.add_argument("--agency", required=True, metavar="NAME")
    p.add_argument("--area", metavar="AREA", help="plan this area only")
    p.add_argument("--timezone", default="Europe/London", metavar="ZONE")
    p.add_argument("--time-limit", type=float, metavar="S", help="seconds of search")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("engine", "cpsat", "heuristic"), default="engine")
    p.add_argument("-o", "--output", metavar="ROTA.json", help="write the rota here")
    p.add_argument("--problem-out", metavar="PROBLEM.json", help="write the week's problem here")
    p.add_argument("--publish", action="store_true", help="publish the rota if it keeps the rules")
    database_option(p)
    p.set_defaults(run=cmd_plan)
