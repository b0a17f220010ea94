"""Portal tables: users, their sessions, one-time links, and the cheap usage counters the
portal shows (requests per key per hour, refused origins per merchant)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.models import Base, utcnow


class PortalUser(Base):
    """A person who signs in to the portal; belongs to one merchant with one role."""

    __tablename__ = "portal_users"
    __table_args__ = (Index("ix_portal_users_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # Lower-cased; one account per address across the platform, so sign-in needs no shop name.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | developer | viewer
    # None until the person sets one through a one-time link.
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalSession(Base):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored, so a copy of
    the table opens no session; deleting or revoking the row signs the browser out."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_user_id", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("portal_users.id", ondelete="CASCADE"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # absolute: idle use never extends it
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)


class PortalLink(Base):
    """A single-use, expiring link: an invitation (creates a user) or a password link (sets
    an existing user's password). Stored hashed, like sessions."""

    __tablename__ = "portal_links"
    __table_args__ = (Index("ix_portal_links_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))  # invite | password
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("portal_users.id", ondelete="CASCADE"), default=None
    )
    created_by: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKeyUsage(Base):
    """Requests per key per hour, flushed from in-process counters (the API's hot path only
    increments a dict entry)."""

    __tablename__ = "api_key_usage"
    __table_args__ = (Index("ix_api_key_usage_merchant_id_hour", "merchant_id", "hour"),)

    key_id: Mapped[str] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    requests: Mapped[int] = mapped_column(Integer, default=0)


class CorsRejection(Base):
    """Origins refused for a merchant's widget, one row per origin (bounded per merchant)."""

    __tablename__ = "cors_rejections"

    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    origin: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
