"""Tables. Every row belongs to a merchant; every query in services filters by merchant id."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    TypeDecorator,
    UniqueConstraint,
    case,
    literal_column,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, whatever the backend stored (SQLite keeps naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Merchant(Base):
    __tablename__ = "merchants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domains: Mapped[list["AllowedDomain"]] = relationship(
        back_populates="merchant",
        order_by="AllowedDomain.position",
        cascade="all, delete-orphan",
    )


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "secret" | "publishable"
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of the whole key: keys carry 256 random bits, so a fast hash is enough and the
    # lookup stays one indexed read.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class AllowedDomain(Base):
    __tablename__ = "allowed_domains"

    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    hostname: Mapped[str] = mapped_column(String(260), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    merchant: Mapped[Merchant] = relationship(back_populates="domains")


class WebhookEndpoint(Base):
    """A merchant's URL that receives signed events (DESIGN §10)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_merchant_id_id", "merchant_id", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)  # empty: every event type
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Kept in clear because every delivery signs with it (HMAC needs the key itself); the
    # database is encrypted at rest and the API shows a secret only when it is created.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100), default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    # First failure since the last success; an endpoint failing for long enough is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """The outbox: written in the transaction of the change that caused the event."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_merchant_id_id", "merchant_id", "id"),
        Index("ix_webhook_events_created_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the `webhook-id` header
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    # The exact body bytes (UTF-8 JSON), so every retry sends what the first attempt sent.
    payload: Mapped[str] = mapped_column(String())
    request_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookAttempt(Base):
    """One delivery attempt of an event to an endpoint: the work queue and the delivery log.

    `due_at` is set exactly while the attempt is unfinished: for `pending` it is when to send,
    for `sending` when the claiming worker's lease runs out. Workers claim rows whose `due_at`
    has passed, so an attempt of a worker that died is picked up again without a sweeper.
    """

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_merchant_id_id", "merchant_id", "id"),
        Index("ix_webhook_attempts_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_attempts_event_id", "event_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)  # 1 for the first send of the event
    trigger: Mapped[str] = mapped_column(String(16))  # event | retry | manual | test
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | succeeded | failed
    scheduled_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    attempted_at: Mapped[datetime | None] = mapped_column(default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    response_snippet: Mapped[str | None] = mapped_column(String(), default=None)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Declared so the unit of work inserts an event before its attempts; never lazy-loaded.
    event: Mapped[WebhookEvent] = relationship(lazy="raise")


# Only unfinished attempts are indexed by due time, so claiming stays one short index scan
# however long the delivery log grows.
Index(
    "ix_webhook_attempts_due_at",
    WebhookAttempt.due_at,
    postgresql_where=WebhookAttempt.due_at.isnot(None),
    sqlite_where=WebhookAttempt.due_at.isnot(None),
)


class Money(TypeDecorator[Decimal]):
    """Exact prices: NUMERIC(18, 4) on PostgreSQL. SQLite has no exact decimal type (NUMERIC
    there is a float), so it stores an integer count of ten-thousandths instead."""

    impl = Numeric(18, 4)
    cache_ok = True
    SCALE = 4

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, self.SCALE))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return int(Decimal(value).scaleb(self.SCALE))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.SCALE)
        return Decimal(value)


class SyncConfig(Base):
    """How a merchant's catalog arrives: one row per merchant (DESIGN §8)."""

    __tablename__ = "sync_configs"
    __table_args__ = (
        # The worker looks for due schedules every poll; only scheduled feeds are indexed.
        Index(
            "ix_sync_configs_next_run_at",
            "next_run_at",
            postgresql_where=text("next_run_at IS NOT NULL"),
            sqlite_where=text("next_run_at IS NOT NULL"),
        ),
    )

    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    # The config's defaults live in app/services/catalog/terms.py, not here: one home per fact.
    source_type: Mapped[str] = mapped_column(String(16))  # upload | url
    source_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    # Never returned by the API (only a masked form); sent only to the feed's own origin.
    auth_header_name: Mapped[str | None] = mapped_column(String(100), default=None)
    auth_header_value: Mapped[str | None] = mapped_column(String(4096), default=None)
    interval_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None)
    format: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    field_mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_currency: Mapped[str] = mapped_column(String(3))
    error_threshold: Mapped[float] = mapped_column()
    max_delete_ratio: Mapped[float] = mapped_column()
    product_url_template: Mapped[str | None] = mapped_column(String(2048), default=None)
    # Shared with the merchant's platform to verify inbound webhooks; write-only in the API.
    webhook_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    # What the feed answered last time, for conditional GET and to skip identical bodies.
    feed_etag: Mapped[str | None] = mapped_column(String(500), default=None)
    feed_last_modified: Mapped[str | None] = mapped_column(String(100), default=None)
    feed_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


ACTIVE_RUN_STATUSES = ("queued", "running")


class SyncRun(Base):
    """One import of a catalog file (upload or feed pull), from start to its final status."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_merchant_id_id", "merchant_id", "id"),
        # One active run per merchant, enforced by the database so that two concurrent
        # triggers cannot both start one.
        Index(
            "uq_sync_runs_one_active_per_merchant",
            "merchant_id",
            unique=True,
            postgresql_where=text("status IN ('queued', 'running')"),
            sqlite_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # upload | feed
    trigger: Mapped[str] = mapped_column(String(16))  # upload | manual | schedule
    # queued | running | succeeded | failed | unchanged | interrupted
    status: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    force: Mapped[bool] = mapped_column(default=False)
    format: Mapped[str | None] = mapped_column(String(16), default=None)
    filename: Mapped[str | None] = mapped_column(String(500), default=None)
    source_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(String(), default=None)
    # The first few row errors for lists; `errors` (deferred) holds the first 1,000.
    error_sample: Mapped[list[Any]] = mapped_column(JSON, default=list)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list, deferred=True)
    # Which process runs it and when it last said so: how a crashed run is told from a slow one.
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Product(Base):
    """One product of a merchant's catalog, keyed by the merchant's own id (`external_id`).

    `pk` exists for the search index: SQLite's FTS5 table follows products by an integer rowid
    that must never change (an implicit rowid may change on VACUUM). The API uses `id`.
    PostgreSQL adds a generated `search` tsvector column with a GIN index (migration 0003).
    """

    __tablename__ = "products"
    __table_args__ = (
        UniqueConstraint("merchant_id", "external_id", name="uq_products_merchant_external"),
        UniqueConstraint("merchant_id", "id", name="uq_products_merchant_id"),
        # Only for products that have a platform id (Shopify deletes name only that).
        Index(
            "ix_products_merchant_source_id",
            "merchant_id",
            "source_id",
            postgresql_where=text("source_id IS NOT NULL"),
            sqlite_where=text("source_id IS NOT NULL"),
        ),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(32))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    # The platform's numeric id when it differs from external_id (Shopify: handle vs id).
    source_id: Mapped[str | None] = mapped_column(String(64), default=None)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(), default=None)
    brand: Mapped[str | None] = mapped_column(String(200), default=None)
    category: Mapped[str | None] = mapped_column(String(500), default=None)
    price: Mapped[Decimal] = mapped_column(Money())
    compare_at_price: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    availability: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(2048), default=None)
    image_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    # images, tags, attributes, gtin/mpn, group id: shown, not filtered on.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A product with variants is one shopper-facing product: `price` is its cheapest variant's,
    # `max_price` its dearest's (None for a single price). Entries: records.variant_entry.
    max_price: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # False: hidden or unpublished in the shop; the merchant sees it, shoppers never do.
    visible_to_shoppers: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    # The colours its title, description, tags, attributes and variant options name, for a
    # shopper's "in red" (app.colours.stored: " black red "). Derived from the hashed content,
    # so not hashed itself.
    colours: Mapped[str] = mapped_column(String(200), default="", server_default="")
    content_hash: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


def stock_tier() -> ColumnElement[int]:
    """In stock first, then backorder and preorder, then the rest: the order shoppers are
    shown products in. Written with literals, not parameters, so that PostgreSQL matches it
    with the listing index below whatever plan a prepared statement gets."""

    def word(value: str) -> ColumnElement[str]:
        return literal_column(f"'{value}'", String)

    def rank(value: int) -> ColumnElement[int]:
        return literal_column(str(value), Integer)

    availability = Product.availability
    return case(
        (availability == word("in_stock"), rank(0)),
        (availability.in_([word("backorder"), word("preorder")]), rank(1)),
        else_=rank(2),
    )


# A list by filters alone (a price, a brand: no words to rank by) walks this index in the
# order shoppers see and stops at the first products that pass, instead of sorting the
# merchant's whole catalog for every such question.
Index("ix_products_listing", Product.merchant_id, stock_tier(), Product.pk)


class InboundWebhookEvent(Base):
    """Ids of inbound platform webhooks already applied: a replay changes nothing."""

    __tablename__ = "inbound_webhook_events"
    __table_args__ = (Index("ix_inbound_webhook_events_received_at", "received_at"),)

    merchant_id: Mapped[str] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatSession(Base):
    """A shopper's conversation with the assistant on a merchant's site (DESIGN §9)."""

    __tablename__ = "chat_sessions"
    __table_args__ = (
        Index("ix_chat_sessions_merchant_id_id", "merchant_id", "id"),
        Index("ix_chat_sessions_merchant_id_created_at", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    locale: Mapped[str | None] = mapped_column(String(35), default=None)
    # Where the widget ran (the request's Origin) and on which page: for analytics only.
    origin: Mapped[str | None] = mapped_column(String(300), default=None)
    page_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)


class ChatMessage(Base):
    """One message of a chat session: the shopper's question or the assistant's reply."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        Index("ix_chat_messages_session_id_id", "session_id", "id"),
        Index("ix_chat_messages_merchant_id_created_at", "merchant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    # Denormalized from the session: every query filters by merchant without a join.
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(String())
    # The product cards as shown with the reply: a snapshot, so history survives catalog changes.
    products: Mapped[list[Any]] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(16), default=None)  # extractive | openai
    fallback: Mapped[bool] = mapped_column(default=False)  # the LLM failed; extractive answered
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WidgetEvent(Base):
    """Telemetry beacons from the widget (DESIGN §11): load times, load failures, API calls."""

    __tablename__ = "widget_events"
    __table_args__ = (
        Index("ix_widget_events_merchant_id_type_created_at", "merchant_id", "type", "created_at"),
        Index("ix_widget_events_created_at", "created_at"),
    )

    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    # widget_loaded | widget_load_failed | api_error | api_latency
    type: Mapped[str] = mapped_column(String(32))
    duration_ms: Mapped[float | None] = mapped_column(default=None)
    code: Mapped[str | None] = mapped_column(String(64), default=None)
    route: Mapped[str | None] = mapped_column(String(100), default=None)
    status: Mapped[int | None] = mapped_column(Integer, default=None)
    widget_version: Mapped[str | None] = mapped_column(String(32), default=None)
    session_id: Mapped[str | None] = mapped_column(String(32), default=None)
    origin: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# Tables kept in their own modules; imported here so that Base.metadata holds them all.
from app.db import accounts as _accounts  # noqa: E402, F401
from app.db import embeddings as _embeddings  # noqa: E402, F401
