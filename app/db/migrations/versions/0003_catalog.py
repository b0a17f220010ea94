"""product catalog: sync configs, sync runs, products with their search index, inbound events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import Money, UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL: a generated tsvector, so every write path keeps the index in its own transaction.
# 'simple' (no stemming) because catalogs come in every language; queries use prefix matching.
_PG_SEARCH = """
ALTER TABLE products ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', coalesce(title, '') || ' ' || external_id), 'A')
    || setweight(to_tsvector('simple', coalesce(brand, '') || ' ' || coalesce(category, '')), 'B')
    || setweight(to_tsvector('simple', left(coalesce(description, ''), 100000)), 'C')
) STORED
"""

# SQLite: an external-content FTS5 table kept in step by triggers, inside the same transaction.
_SQLITE_SEARCH = [
    """CREATE VIRTUAL TABLE products_fts USING fts5(
        title, external_id, brand, category, description,
        content='products', content_rowid='pk', tokenize='unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_fts (rowid, title, external_id, brand, category, description)
        VALUES (new.pk, new.title, new.external_id, new.brand, new.category, new.description);
    END""",
    """CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
        INSERT INTO products_fts
            (products_fts, rowid, title, external_id, brand, category, description)
        VALUES
            ('delete', old.pk, old.title, old.external_id, old.brand, old.category,
             old.description);
    END""",
    """CREATE TRIGGER products_fts_update
    AFTER UPDATE OF title, external_id, brand, category, description ON products BEGIN
        INSERT INTO products_fts
            (products_fts, rowid, title, external_id, brand, category, description)
        VALUES
            ('delete', old.pk, old.title, old.external_id, old.brand, old.category,
             old.description);
        INSERT INTO products_fts (rowid, title, external_id, brand, category, description)
        VALUES (new.pk, new.title, new.external_id, new.brand, new.category, new.description);
    END""",
]


def _merchant_id(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "merchant_id",
        sa.String(32),
        sa.ForeignKey("merchants.id", ondelete="CASCADE"),
        nullable=False,
        primary_key=primary_key,
    )


def upgrade() -> None:
    op.create_table(
        "sync_configs",
        _merchant_id(primary_key=True),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("source_url", sa.String(2048), nullable=True),
        sa.Column("auth_header_name", sa.String(100), nullable=True),
        sa.Column("auth_header_value", sa.String(4096), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("field_mapping", sa.JSON(), nullable=False),
        sa.Column("default_currency", sa.String(3), nullable=False),
        sa.Column("error_threshold", sa.Float(), nullable=False),
        sa.Column("max_delete_ratio", sa.Float(), nullable=False),
        sa.Column("product_url_template", sa.String(2048), nullable=True),
        sa.Column("webhook_secret", sa.String(200), nullable=True),
        sa.Column("feed_etag", sa.String(500), nullable=True),
        sa.Column("feed_last_modified", sa.String(100), nullable=True),
        sa.Column("feed_sha256", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    scheduled = sa.text("next_run_at IS NOT NULL")
    op.create_index(
        "ix_sync_configs_next_run_at",
        "sync_configs",
        ["next_run_at"],
        postgresql_where=scheduled,
        sqlite_where=scheduled,
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        _merchant_id(),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("filename", sa.String(500), nullable=True),
        sa.Column("source_url", sa.String(2048), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("rows_total", "created", "updated", "deleted", "unchanged", "invalid")
        ),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("error_message", sa.String(), nullable=True),
        sa.Column("error_sample", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_sync_runs_merchant_id_id", "sync_runs", ["merchant_id", "id"])
    active = sa.text("status IN ('queued', 'running')")
    op.create_index(
        "uq_sync_runs_one_active_per_merchant",
        "sync_runs",
        ["merchant_id"],
        unique=True,
        postgresql_where=active,
        sqlite_where=active,
    )
    op.create_table(
        "products",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(32), nullable=False),
        _merchant_id(),
        sa.Column("external_id", sa.String(255), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("brand", sa.String(200), nullable=True),
        sa.Column("category", sa.String(500), nullable=True),
        sa.Column("price", Money(), nullable=False),
        sa.Column("compare_at_price", Money(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("availability", sa.String(16), nullable=False),
        sa.Column("url", sa.String(2048), nullable=True),
        sa.Column("image_url", sa.String(2048), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("merchant_id", "external_id", name="uq_products_merchant_external"),
        sa.UniqueConstraint("merchant_id", "id", name="uq_products_merchant_id"),
    )
    has_source_id = sa.text("source_id IS NOT NULL")
    op.create_index(
        "ix_products_merchant_source_id",
        "products",
        ["merchant_id", "source_id"],
        postgresql_where=has_source_id,
        sqlite_where=has_source_id,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_SEARCH)
        op.execute("CREATE INDEX ix_products_search ON products USING gin (search)")
    else:
        for statement in _SQLITE_SEARCH:
            op.execute(statement)
    op.create_table(
        "inbound_webhook_events",
        _merchant_id(primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_inbound_webhook_events_received_at", "inbound_webhook_events", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_webhook_events_received_at", table_name="inbound_webhook_events")
    op.drop_table("inbound_webhook_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_products_search")
    else:
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER products_fts_{trigger}")
        op.execute("DROP TABLE products_fts")
    op.drop_index("ix_products_merchant_source_id", table_name="products")
    op.drop_table("products")
    op.drop_index("uq_sync_runs_one_active_per_merchant", table_name="sync_runs")
    op.drop_index("ix_sync_runs_merchant_id_id", table_name="sync_runs")
    op.drop_table("sync_runs")
    op.drop_index("ix_sync_configs_next_run_at", table_name="sync_configs")
    op.drop_table("sync_configs")
