"""The agency's own records, imported history, and areas on problems and publications.

``agency_records`` keeps each worker, client and care package as its model's JSON;
``history_entries`` past visits imported from before carerota. ``problems.area`` and
``publications.area`` make a publication per agency, period and area ("" for the whole agency),
so two areas' rotas of the same week are published side by side.

Revision ID: 0005_agency_records
Revises: 0004_carer_links
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_agency_records"
down_revision: str | None = "0004_carer_links"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=32)


def upgrade() -> None:
    """Add the records and history tables and the area columns."""
    op.create_table(
        "agency_records",
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("record_id", sa.String(200), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index(
        "ix_agency_records_client", "agency_records", ["agency_id", "kind", "client_id"]
    )
    op.create_table(
        "history_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("worker_id", sa.String(200), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("coordinator", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_history_entries_agency_date", "history_entries", ["agency_id", "date"])
    for table in ("problems", "publications"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("area", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    """Remove them again."""
    for table in ("publications", "problems"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("area")
    op.drop_index("ix_history_entries_agency_date", table_name="history_entries")
    op.drop_table("history_entries")
    op.drop_index("ix_agency_records_client", table_name="agency_records")
    op.drop_table("agency_records")
