"""Alembic migrations of the service's database (run by :func:`api.db.migrate`)."""
