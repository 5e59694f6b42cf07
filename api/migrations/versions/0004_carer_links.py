"""Carer links belong to the worker, not to a rota version, and can be revoked.

``carer_tokens.version_id`` becomes optional (the version a link was made from, if any); a link
records the API key that made it (``key_id``) and when it was revoked (``revoked_at``).

Revision ID: 0004_carer_links
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004_carer_links"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(length=32)


def upgrade() -> None:
    """Loosen the version, add the minting key and the revocation time, index by worker."""
    with op.batch_alter_table("carer_tokens") as batch:
        batch.alter_column("version_id", existing_type=ID, nullable=True)
        batch.add_column(sa.Column("key_id", ID, nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key("fk_carer_tokens_key_id", "api_keys", ["key_id"], ["id"])
    op.create_index("ix_carer_tokens_key_id", "carer_tokens", ["key_id"])
    op.create_index("ix_carer_tokens_worker", "carer_tokens", ["agency_id", "worker_id"])


def downgrade() -> None:
    """Back to one version per link; links made without a version go."""
    op.drop_index("ix_carer_tokens_worker", table_name="carer_tokens")
    op.drop_index("ix_carer_tokens_key_id", table_name="carer_tokens")
    op.execute("DELETE FROM carer_tokens WHERE version_id IS NULL")
    with op.batch_alter_table("carer_tokens") as batch:
        batch.drop_constraint("fk_carer_tokens_key_id", type_="foreignkey")
        batch.drop_column("revoked_at")
        batch.drop_column("key_id")
        batch.alter_column("version_id", existing_type=ID, nullable=False)
