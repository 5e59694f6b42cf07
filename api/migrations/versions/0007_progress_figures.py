"""A solve's progress in a coordinator's words: visits staffed, travel, carers per client.

``jobs.visits_staffed``, ``jobs.travel_minutes`` and ``jobs.carers_per_client`` hold the best rota
so far while a solve runs, and the rota's own figures once it is stored. Jobs from before this
revision have none; the board then says nothing rather than a wrong number.

Revision ID: 0007_progress_figures
Revises: 0006_webhook_signing
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_progress_figures"
down_revision: str | None = "0006_webhook_signing"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the three figures, empty for the jobs already there."""
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("visits_staffed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("travel_minutes", sa.Float(), nullable=True))
        batch.add_column(sa.Column("carers_per_client", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop the three figures."""
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("carers_per_client")
        batch.drop_column("travel_minutes")
        batch.drop_column("visits_staffed")
