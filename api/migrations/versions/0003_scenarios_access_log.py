"""What-if scenarios run as jobs, and the access log of health-data reads.

A scenario job keeps the scenario as submitted (``jobs.scenario``) and its comparison
(``jobs.result``). ``access_log`` records who read which rota, run sheet or calendar, and when.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=32)


def upgrade() -> None:
    """Add the scenario columns to jobs and the access log table."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("scenario", sa.Text(), nullable=True))
        batch.add_column(sa.Column("result", sa.Text(), nullable=True))
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", ID, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_id", ID, nullable=False),
        sa.Column("worker_id", sa.String(200), nullable=True),
        sa.Column("client_id", sa.String(200), nullable=True),
    )
    op.create_index("ix_access_log_agency_at", "access_log", ["agency_id", "at"])


def downgrade() -> None:
    """Remove them again."""
    op.drop_index("ix_access_log_agency_at", table_name="access_log")
    op.drop_table("access_log")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("result")
        batch.drop_column("scenario")
