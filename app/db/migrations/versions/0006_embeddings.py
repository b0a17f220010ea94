"""product embeddings for semantic search

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "product_embeddings",
        sa.Column(
            "product_pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("products.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column(
            "merchant_id",
            sa.String(32),
            sa.ForeignKey("merchants.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("source_updated_at", UTCDateTime(), nullable=False),
        sa.Column("embedded_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_product_embeddings_merchant_model_embedded",
        "product_embeddings",
        ["merchant_id", "model", "embedded_at"],
    )


def downgrade() -> None:
    op.drop_table("product_embeddings")
