"""The ``carerota`` command line, assembled from each layer's commands.

The solver's (``solver/cli.py``), the scenarios' (``scenarios/cli.py``) and the service's
(``api/cli.py``) commands each live with their layer; this module sits above all three so that no
inner layer has to import an outer one to build the program.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from types import ModuleType
from typing import Any, NoReturn

import scenarios.cli
import solver.cli
from solver.cli import InputError

EXIT_INVALID = 2
# The service's commands, and what each does, for the stand-ins shown without the api extra.
SERVICE_COMMANDS = {
    "serve": "run the HTTP API with its solve workers",
    "worker": "run a Celery worker taking solve jobs (production)",
    "agency": "create agencies and their API keys",
    "records": "the agency's records: import spreadsheets, templates",
    "plan": "plan a week from the agency's records and solve it",
}
NO_SERVICE = "the service is not installed here: pip install 'carerota[api]'"


def service_cli() -> ModuleType | None:
    """``api.cli``, or None when the ``api`` extra (the service's dependencies) is not installed."""
    try:
        import api.cli
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] == "api":
            raise  # our own module is missing: a broken install, not a missing extra
        return None
    return api.cli


def add_service_commands(sub: Any) -> None:
    """The service's commands; without the ``api`` extra, their names in the help, saying what
    to install (:func:`main` answers them with one line)."""
    service = service_cli()
    if service is not None:
        service.add_commands(sub)
        return
    for name, what in SERVICE_COMMANDS.items():
        sub.add_parser(name, help=f"{what} (needs: pip install 'carerota[api]')")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="carerota",
        description="Rota optimisation for home-care "
        "agencies: continuity, travel and the coordinator rule.",
    )
    top.add_argument("--version", action="version", version=f"carerota {version('carerota')}")
    sub = top.add_subparsers(dest="command", required=True)
    solver.cli.add_commands(sub)
    scenarios.cli.add_commands(sub)
    add_service_commands(sub)
    return top


def fail(message: str) -> NoReturn:
    print(f"carerota: error: {message}", file=sys.stderr)
    sys.exit(EXIT_INVALID)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in SERVICE_COMMANDS and service_cli() is None:
        fail(f"{words[0]}: {NO_SERVICE}")
    args = parser().parse_args(words)
    if getattr(args, "log", False):
        # --log: the solver's own diagnostics on stderr too, beside CP-SAT's search log.
        logging.basicConfig(level=logging.INFO, format="carerota: %(message)s", stream=sys.stderr)
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
