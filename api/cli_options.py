"""What the service's command modules (:mod:`api.cli`, :mod:`api.records_cli`) share: settings
from the command line, the ``--database-url`` option and the one-line input error.

A module of its own so that neither command module imports the other.
"""

from __future__ import annotations

import argparse
from typing import Any

from api.settings import Settings


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the environment, with the command line's options on top."""
    overrides = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "database_url", None):
        overrides["database_url"] = args.database_url
    if not overrides:
        return Settings()
    return Settings(**overrides)


def input_error(message: str) -> Exception:
    """The command line's one-line error (exit 2), imported late so loading stays quick."""
    from solver.cli import InputError

    return InputError(message)


def database_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy database URL (default: $DATABASE_URL, else sqlite:///./carerota.db)",
    )
