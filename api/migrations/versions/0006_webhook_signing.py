"""Each agency's webhook calls are signed with a secret of its own.

``agencies.webhook_secret`` holds it (``whsec_...``), made whenever a webhook URL is set. It must
be kept as it is, not hashed: the service signs with it. Webhooks set before this revision have
no secret and are not called until they are set again (their URLs were never checked either).

Revision ID: 0006_webhook_signing
Revises: 0005_agency_records
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_webhook_signing"
down_revision: str | None = "0005_agency_records"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Add the secret column."""
    with op.batch_alter_table("agencies") as batch:
        batch.add_column(sa.Column("webhook_secret", sa.String(length=64), nullable=True))


def downgrade() -> None:
    """Drop the secret column."""
    with op.batch_alter_table("agencies") as batch:
        batch.drop_column("webhook_secret")
