"""developer portal: users, sessions, one-time links, key usage per hour, refused origins

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
        "portal_users",
        sa.Column("id", sa.String(32), primary_key=True),
        _merchant_id(),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_sign_in_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_portal_users_merchant_id_id", "portal_users", ["merchant_id", "id"])
    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("portal_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _merchant_id(),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
    )
    op.create_index("ix_portal_sessions_user_id", "portal_sessions", ["user_id"])
    op.create_table(
        "portal_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        _merchant_id(),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("portal_users.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_portal_links_merchant_id_id", "portal_links", ["merchant_id", "id"])
    op.create_table(
        "api_key_usage",
        sa.Column(
            "key_id",
            sa.String(32),
            sa.ForeignKey("api_keys.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("hour", UTCDateTime(), primary_key=True),
        _merchant_id(),
        sa.Column("requests", sa.Integer(), nullable=False),
    )
    op.create_index("ix_api_key_usage_merchant_id_hour", "api_key_usage", ["merchant_id", "hour"])
    op.create_table(
        "cors_rejections",
        _merchant_id(primary_key=True),
        sa.Column("origin", sa.String(200), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cors_rejections")
    op.drop_table("api_key_usage")
    op.drop_table("portal_links")
    op.drop_table("portal_sessions")
    op.drop_table("portal_users")
