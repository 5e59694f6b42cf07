"""Alembic's entry point: run the migrations against the URL :func:`api.db.migrate` passes.

From the command line (``alembic -c api/alembic.ini ...``) the URL comes from ``DATABASE_URL``
through the service's settings instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from api.db import Base
from api.settings import Settings

config = context.config
url = config.attributes.get("url") or Settings().database_url


def run_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
                render_as_batch=url.startswith("sqlite"),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
