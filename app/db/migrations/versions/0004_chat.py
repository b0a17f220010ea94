"""chat sessions and messages, widget telemetry events

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.db.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _merchant_id() -> sa.Column[str]:
    return sa.Column(
        "merchant_id",
        sa.String(32),
        sa.ForeignKey("merchants.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        _merchant_id(),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("origin", sa.String(300), nullable=True),
        sa.Column("page_url", sa.String(2048), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_message_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_chat_sessions_merchant_id_id", "chat_sessions", ["merchant_id", "id"])
    op.create_index(
        "ix_chat_sessions_merchant_id_created_at", "chat_sessions", ["merchant_id", "created_at"]
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("chat_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _merchant_id(),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("provider", sa.String(16), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_chat_messages_session_id_id", "chat_messages", ["session_id", "id"])
    op.create_index(
        "ix_chat_messages_merchant_id_created_at", "chat_messages", ["merchant_id", "created_at"]
    )
    op.create_table(
        "widget_events",
        sa.Column(
            "pk",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        _merchant_id(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("route", sa.String(100), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("widget_version", sa.String(32), nullable=True),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("origin", sa.String(300), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_widget_events_merchant_id_type_created_at",
        "widget_events",
        ["merchant_id", "type", "created_at"],
    )
    op.create_index("ix_widget_events_created_at", "widget_events", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_widget_events_created_at", table_name="widget_events")
    op.drop_index("ix_widget_events_merchant_id_type_created_at", table_name="widget_events")
    op.drop_table("widget_events")
    op.drop_index("ix_chat_messages_merchant_id_created_at", table_name="chat_messages")
    op.drop_index("ix_chat_messages_session_id_id", table_name="chat_messages")
    op.drop_table("chat_messages")
    op.drop_index("ix_chat_sessions_merchant_id_created_at", table_name="chat_sessions")
    op.drop_index("ix_chat_sessions_merchant_id_id", table_name="chat_sessions")
    op.drop_table("chat_sessions")
