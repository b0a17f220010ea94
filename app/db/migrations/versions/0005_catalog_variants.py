"""catalog shapes: variants as a column, the price range, visibility to shoppers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import Money

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Variants used to live in `data`; move them so products keep theirs until the next import
# rewrites them in the new shape (their content hash no longer matches, so it will).
_MOVE_VARIANTS = {
    "postgresql": (
        "UPDATE products SET variants = data->'variants', "
        "data = CAST(CAST(data AS jsonb) - 'variants' AS json) "
        "WHERE json_typeof(data->'variants') = 'array'"
    ),
    "sqlite": (
        "UPDATE products SET variants = json_extract(data, '$.variants'), "
        "data = json_remove(data, '$.variants') "
        "WHERE json_type(data, '$.variants') = 'array'"
    ),
}
_RESTORE_VARIANTS = {
    "postgresql": (
        "UPDATE products SET data = CAST(CAST(data AS jsonb) "
        "|| jsonb_build_object('variants', CAST(variants AS jsonb)) AS json) "
        "WHERE json_array_length(variants) > 0"
    ),
    "sqlite": (
        "UPDATE products SET data = json_set(data, '$.variants', json(variants)) "
        "WHERE json_array_length(variants) > 0"
    ),
}


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column("visible_to_shoppers", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column("products", sa.Column("max_price", Money(), nullable=True))
    op.add_column("products", sa.Column("variants", sa.JSON(), nullable=False, server_default="[]"))
    op.execute(_MOVE_VARIANTS[op.get_bind().dialect.name])


def downgrade() -> None:
    op.execute(_RESTORE_VARIANTS[op.get_bind().dialect.name])
    for name in ("variants", "max_price", "visible_to_shoppers"):
        op.drop_column("products", name)
