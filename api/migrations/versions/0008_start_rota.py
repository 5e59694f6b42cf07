"""A plan's start: the week before's published rota, moved on a week.

``jobs.start_rota`` holds the rota (contract JSON) a weekly plan's search begins from, so the
same carers keep their clients where they still can; jobs from before this revision, and solves
of uploaded problems, have none.

Revision ID: 0008_start_rota
Revises: 0007_progress_figures
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0008_start_rota"
down_revision: str | None = "0007_progress_figures"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the start, empty for the jobs already there."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("start_rota", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop the start."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("start_rota")
