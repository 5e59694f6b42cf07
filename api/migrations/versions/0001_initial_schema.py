"""Initial schema.

Agencies and their keys, problems, jobs, rota versions, run sheets, publications and carer
link tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Migrations freeze their types: api.db.UTCDateTime is a plain DateTime holding naive UTC.
TIME = sa.DateTime()
ID = sa.String(length=32)


def upgrade() -> None:
    """Create every table of the first release."""
    op.create_table(
        "agencies",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
    )
    op.create_index("ix_api_keys_agency_id", "api_keys", ["agency_id"])
    op.create_table(
        "problems",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_problems_agency_id", "problems", ["agency_id"])
    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("problem_id", ID, sa.ForeignKey("problems.id"), nullable=False),
        sa.Column("parent_id", ID, sa.ForeignKey("jobs.id"), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("time_limit", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("started_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", TIME, nullable=True),
        sa.Column("progress_seq", sa.Integer(), nullable=False),
        sa.Column("elapsed", sa.Float(), nullable=True),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("bound", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_jobs_agency_created", "jobs", ["agency_id", "created_at", "id"])
    op.create_index("ix_jobs_problem_id", "jobs", ["problem_id"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"])
    op.create_table(
        "rota_versions",
        sa.Column("id", ID, sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("problem_id", ID, sa.ForeignKey("problems.id"), nullable=False),
        sa.Column("solver_status", sa.String(length=16), nullable=False),
        sa.Column("objective", sa.Float(), nullable=True),
        sa.Column("best_bound", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("check_ok", sa.Boolean(), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("rota", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_rota_versions_agency_id", "rota_versions", ["agency_id"])
    op.create_table(
        "run_sheets",
        sa.Column("version_id", ID, sa.ForeignKey("rota_versions.id"), primary_key=True),
        sa.Column("worker_id", sa.String(length=200), primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_run_sheets_agency_id", "run_sheets", ["agency_id"])
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("version_id", ID, sa.ForeignKey("rota_versions.id"), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("published_at", TIME, nullable=False),
    )
    op.create_index(
        "ix_publications_period", "publications", ["agency_id", "period_start", "period_end"]
    )
    op.create_index("ix_publications_version_id", "publications", ["version_id"])
    op.create_table(
        "carer_tokens",
        sa.Column("id", ID, primary_key=True),
        sa.Column("agency_id", ID, sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("version_id", ID, sa.ForeignKey("rota_versions.id"), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
    )
    op.create_index("ix_carer_tokens_agency_id", "carer_tokens", ["agency_id"])


def downgrade() -> None:
    """Drop every table, newest dependants first."""
    for table in (
        "carer_tokens",
        "publications",
        "run_sheets",
        "rota_versions",
        "jobs",
        "problems",
        "api_keys",
        "agencies",
    ):
        op.drop_table(table)
