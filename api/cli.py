"""The service's commands: ``carerota serve``, ``carerota worker``, ``carerota agency ...``.

:func:`add_commands` registers them on the ``carerota`` command line (``carerota/cli.py``). This
module imports nothing heavy at load time, so ``carerota check`` stays quick.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from api.cli_options import database_option, input_error, settings_from
from api.settings import Settings

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level.upper(), format=_LOG_FORMAT)
    # SQL parameters are care plans and addresses: never log statements, even at DEBUG.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the API (and, with the local broker, its solve processes) until interrupted."""
    import uvicorn

    from api.app import create_app

    settings = settings_from(args, local_workers=args.workers)
    _configure_logging(settings)
    n = settings.local_workers
    where = (
        "Celery workers"
        if settings.uses_celery
        else f"{n} local solve {'process' if n == 1 else 'processes'}"
    )
    print(
        f"carerota: serving on http://{args.host}:{args.port} (docs at /docs); "
        f"database {_safe_url(settings.database_url)}; solves on {where}",
        file=sys.stderr,
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        # One web process: with the local broker it owns the solve processes.
        workers=None,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a Celery worker that takes solve jobs from the broker."""
    settings = settings_from(args)
    if args.broker_url:
        settings = Settings(**{**settings.model_dump(), "broker_url": args.broker_url})
    if not settings.uses_celery:
        raise input_error(
            "carerota worker needs a broker: set CELERY_BROKER_URL (e.g. redis://host:6379/0); "
            "with the local broker 'carerota serve' runs its own solve processes"
        )
    _configure_logging(settings)
    from api.celery_app import worker_main
    from api.db import migrate

    migrate(settings.database_url)
    return worker_main(settings, args.concurrency, settings.log_level)


def cmd_agency_create(args: argparse.Namespace) -> int:
    """Create an agency; its first API key is the only line on stdout."""
    from api.db import Database, migrate
    from api.store import AgencyExists, create_agency

    name = args.name.strip()
    if not name:
        raise input_error("an agency needs a name")
    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        _, key = create_agency(db, name)
    except AgencyExists:
        raise input_error(
            f"agency {name!r} already exists; 'carerota agency key' adds a key"
        ) from None
    finally:
        db.dispose()
    print(key)
    print(
        f"carerota: created agency {name!r}; keep the key above safe, it is not shown again",
        file=sys.stderr,
    )
    return 0


def cmd_agency_key(args: argparse.Namespace) -> int:
    """Issue another API key for an existing agency (the only line on stdout)."""
    from api.db import Database, migrate
    from api.store import issue_key

    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        key = issue_key(db, args.name)
    except KeyError:
        raise input_error(f"no agency called {args.name!r}") from None
    finally:
        db.dispose()
    print(key)
    return 0


def cmd_agency_rotate_key(args: argparse.Namespace) -> int:
    """A new key for the agency (the only line on stdout); the old ones work until revoked."""
    cmd_agency_key(args)
    print(
        f"carerota: new key issued for {args.name!r}; its older keys keep working until "
        f"'carerota agency revoke-key {args.name!r} --all-but-newest'",
        file=sys.stderr,
    )
    return 0


def cmd_agency_keys(args: argparse.Namespace) -> int:
    """List the agency's keys: id, when made, when revoked (the keys themselves are not kept)."""
    from api.db import Database, migrate
    from api.store import list_keys

    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        keys = list_keys(db, args.name)
    except KeyError:
        raise input_error(f"no agency called {args.name!r}") from None
    finally:
        db.dispose()
    for key in keys:
        revoked = f"revoked {key.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if key.revoked_at else "live"
        print(f"{key.id}  created {key.created_at:%Y-%m-%dT%H:%M:%SZ}  {revoked}")
    return 0


def cmd_agency_revoke_key(args: argparse.Namespace) -> int:
    """Revoke one key (by the key or its id prefix) or every key but the newest."""
    from api.carers import revoke_links_made_by
    from api.db import Database, migrate
    from api.revocation import announce
    from api.store import revoke_keys

    if (args.key is None) == (not args.all_but_newest):
        raise input_error("name one key (the key or its id prefix) or give --all-but-newest")
    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        revoked = revoke_keys(db, args.name, keep_newest=args.all_but_newest, ref=args.key)
        if args.with_links:
            with db.write() as s:
                links = revoke_links_made_by(s, revoked)
            print(f"carerota: revoked {links} carer link(s) those keys made", file=sys.stderr)
    except KeyError:
        raise input_error(f"no agency called {args.name!r}") from None
    except ValueError as e:
        raise input_error(str(e)) from None
    finally:
        db.dispose()
    announce(settings)
    for key_id in revoked:
        print(key_id)
    print(
        f"carerota: revoked {len(revoked)} key(s) of {args.name!r}; running API processes "
        "refuse them within a second",
        file=sys.stderr,
    )
    return 0


def cmd_agency_delete(args: argparse.Namespace) -> int:
    """Delete an agency and every row of it, in every table."""
    from api.db import Database, migrate
    from api.erasure import StillSolving, erase_agency
    from api.revocation import announce

    if not args.yes:
        raise input_error(
            f"this deletes {args.name!r} and all its rotas, clients and keys for good; "
            "add --yes to go ahead"
        )
    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        erased = erase_agency(db, args.name)
    except KeyError:
        raise input_error(f"no agency called {args.name!r}") from None
    except StillSolving as e:
        raise input_error(
            f"{len(e.args)} rota(s) of {args.name!r} are queued or solving; cancel them first"
        ) from None
    finally:
        db.dispose()
    announce(settings)
    rows = ", ".join(f"{table} {n}" for table, n in sorted(erased.counts.items()) if n)
    print(f"carerota: deleted agency {args.name!r} ({rows})", file=sys.stderr)
    return 0


def cmd_agency_access_log(args: argparse.Namespace) -> int:
    """Print the agency's access log, newest first: one read per line, tab-separated."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from api.access_log import AccessFilter, entries
    from api.db import Agency, Database, migrate

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise input_error(f"--since {args.since!r} is not a date or time") from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
    settings = settings_from(args)
    migrate(settings.database_url)
    db = Database(settings.database_url)
    try:
        with db.read() as s:
            agency_id = s.scalar(select(Agency.id).where(Agency.name == args.name))
        if agency_id is None:
            raise input_error(f"no agency called {args.name!r}")
        rows, _ = entries(db, agency_id, AccessFilter(since=since), args.limit, None)
    finally:
        db.dispose()
    for r in rows:
        about = r.worker_id or r.client_id or "-"
        print(
            f"{r.at:%Y-%m-%dT%H:%M:%SZ}\t{r.actor_kind}\t{r.actor_id}\t{r.action}\t"
            f"{r.object_id}\t{about}"
        )
    return 0


def _safe_url(url: str) -> str:
    """A database URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}{sep}{user}@{host}"
    return url


def add_commands(sub: Any) -> None:
    """Register ``serve``, ``worker``, ``agency`` and the records' commands (``records``,
    ``plan``: :mod:`api.records_cli`) on the ``carerota`` subcommand parser."""
    from api import records_cli

    records_cli.add_commands(sub)
    p = sub.add_parser("serve", help="run the HTTP API with its solve workers")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local solve processes (default: $CAREROTA_LOCAL_WORKERS, else half the cores)",
    )
    database_option(p)
    p.set_defaults(run=cmd_serve)

    p = sub.add_parser("worker", help="run a Celery worker taking solve jobs (production)")
    p.add_argument(
        "--concurrency", type=int, default=1, metavar="N", help="solves at once (default 1)"
    )
    p.add_argument("--broker-url", metavar="URL", help="default: $CELERY_BROKER_URL")
    database_option(p)
    p.set_defaults(run=cmd_worker)

    p = sub.add_parser("agency", help="create agencies and their API keys")
    agency = p.add_subparsers(dest="agency_command", required=True)
    q = agency.add_parser("create", help="create an agency; prints its first API key, once")
    q.add_argument("name", metavar="NAME")
    database_option(q)
    q.set_defaults(run=cmd_agency_create)
    q = agency.add_parser("key", help="print a new API key for an existing agency")
    q.add_argument("name", metavar="NAME")
    database_option(q)
    q.set_defaults(run=cmd_agency_key)
    q = agency.add_parser(
        "rotate-key", help="print a new API key; older keys keep working until revoked"
    )
    q.add_argument("name", metavar="NAME")
    database_option(q)
    q.set_defaults(run=cmd_agency_rotate_key)
    q = agency.add_parser("keys", help="list an agency's keys by id (the keys are not stored)")
    q.add_argument("name", metavar="NAME")
    database_option(q)
    q.set_defaults(run=cmd_agency_keys)
    q = agency.add_parser(
        "revoke-key", help="revoke a key, or every key but the newest; prints the revoked ids"
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument("key", metavar="KEY", nargs="?", help="the key (crk_...) or its id prefix")
    q.add_argument("--all-but-newest", action="store_true", help="keep only the newest key")
    q.add_argument(
        "--with-links",
        action="store_true",
        help="also revoke the carer links those keys made (for a key that leaked)",
    )
    database_option(q)
    q.set_defaults(run=cmd_agency_revoke_key)
    q = agency.add_parser(
        "access-log", help="who read the agency's rotas, run sheets and calendars, newest first"
    )
    q.add_argument("name", metavar="NAME")
    q.add_argument("--since", metavar="WHEN", help="from this date or time (ISO 8601; UTC)")
    q.add_argument("--limit", type=int, default=1000, metavar="N", help="at most N (1000)")
    database_option(q)
    q.set_defaults(run=cmd_agency_access_log)
    q = agency.add_parser("delete", help="delete an agency and all its data, in every table")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--yes", action="store_true", help="really delete it")
    database_option(q)
    q.set_defaults(run=cmd_agency_delete)
