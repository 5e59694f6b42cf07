"""Absences and their re-solves.

Absences, the per-month count of cover requests per worker, the agency's webhook, a job's kind
(solve or an absence's re-solve) and a version's change list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime()
ID = sa.String(length=32)


def upgrade() -> None:
    """Add the absence tables and the columns that tie re-solves to them."""
    op.create_table(
        "absences",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("worker_id", sa.String(200), nullable=False),
        sa.Column("start", sa.String(19), nullable=False),
        sa.Column("end", sa.String(19), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("merged_into", ID, sa.ForeignKey("absences.id"), nullable=True),
    )
    op.create_index("ix_absences_worker", "absences", ["agency_id", "worker_id"])
    op.create_table(
        "cover_counts",
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("worker_id", sa.String(200), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("webhook_url", sa.String(500), nullable=True))
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="solve"))
        batch.add_column(
            sa.Column("absence_id", ID, sa.ForeignKey("absences.id", name="fk_jobs_absence"))
        )
        batch.add_column(sa.Column("resolve_now", sa.String(19), nullable=True))
    with op.batch_alter_table("rota_versions") as batch:
        batch.add_column(sa.Column("changes", sa.Text(), nullable=True))


def downgrade() -> None:
    """Remove them again."""
    with op.batch_alter_table("rota_versions") as batch:
        batch.drop_column("changes")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("resolve_now")
        batch.drop_column("absence_id")
        batch.drop_column("kind")
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("webhook_url")
    op.drop_table("cover_counts")
    op.drop_index("ix_absences_worker", table_name="absences")
    op.drop_table("absences")
