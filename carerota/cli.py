"""The ``carerota`` command line, assembled from each layer's commands.

The solver's (``solver/cli.py``), the scenarios' (``scenarios/cli.py``) and the service's
(``api/cli.py``) commands each live with their layer; this module sits above all three so that no
inner layer has to import an outer one to build the program.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import NoReturn

import api.cli
import scenarios.cli
import solver.cli
from solver.cli import InputError

EXIT_INVALID = 2


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
    api.cli.add_commands(sub)
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
