"""the colours each product names, for a shopper's "in red"

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.colours import product_colours

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Products are read and written back this many at a time: a large catalog is never in memory.
_BATCH = 1000


def _json(value: Any, empty: Any) -> Any:
    """A JSON column as raw SQL returns it: text on some drivers, decoded on others."""
    if value is None:
        return empty
    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    op.add_column(
        "products", sa.Column("colours", sa.String(200), nullable=False, server_default="")
    )
    # Products imported before this revision: their colours, computed as an import would.
    # An unchanged re-import never rewrites them (their content hash still matches).
    bind = op.get_bind()
    select = sa.text(
        "SELECT pk, title, description, data, variants FROM products WHERE pk > :after "
        "ORDER BY pk LIMIT :batch"
    )
    update = sa.text("UPDATE products SET colours = :colours WHERE pk = :pk")
    after = 0
    while rows := bind.execute(select, {"after": after, "batch": _BATCH}).all():
        changed = []
        for pk, title, description, data, variants in rows:
            colours = product_colours(title, description, _json(data, {}), _json(variants, []))
            if colours:
                changed.append({"pk": pk, "colours": colours})
        if changed:
            bind.execute(update, changed)
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_column("products", "colours")
