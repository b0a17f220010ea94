"""an index for listing a merchant's products in the order shoppers see them

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same expression as app.db.models.stock_tier(), as PostgreSQL and SQLite compare them.
_TIER = (
    "(CASE WHEN availability = 'in_stock' THEN 0"
    " WHEN availability IN ('backorder', 'preorder') THEN 1 ELSE 2 END)"
)


def upgrade() -> None:
    op.create_index("ix_products_listing", "products", ["merchant_id", sa.text(_TIER), "pk"])


def downgrade() -> None:
    op.drop_index("ix_products_listing", table_name="products")
