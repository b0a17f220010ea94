"""Inbound platform webhooks: single-product changes pushed by the merchant's shop.

Two signature schemes, both HMAC-SHA256 with the config's `webhookSecret`:

- Standard Webhooks: `webhook-id`, `webhook-timestamp` (±5 minutes, else refused as stale) and
  `webhook-signature: v1,<base64>` over `id.timestamp.body`; body
  `{"type": "product.created|updated|deleted", "data": {...product...}}`.
- Shopify: `X-Shopify-Hmac-Sha256` (base64 over the body) and `X-Shopify-Topic`
  (`products/create|update|delete`); body: the product as Shopify's Admin API writes it.

An event id is applied once (replays change nothing). Shopify signs no timestamp, so its
replays are caught by the id and by the product's `updated_at`: an older update than the one
applied is ignored.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import InboundWebhookEvent, Product, SyncConfig, utcnow
from app.ids import new_id
from app.metrics import SYNC_ROWS, SYNC_RUNS
from app.parsing import ParseError, iso_instant, natural_or_none
from app.services.catalog import config as configs
from app.services.catalog.formats.json_lines import object_to_raw
from app.services.catalog.records import RowError, build_record
from app.services.catalog.staging import content_hash
from app.services.catalog.terms import ReceiptAction, ReceiptStatus
from app.services.catalog.values import format_price
from app.services.chat.vocabulary import forget_vocabulary
from app.services.webhooks.outbox import emit_event
from app.services.webhooks.signing import any_key, verify_header

TOLERANCE_SECONDS = 5 * 60
_STANDARD_TYPES = {
    "product.created": "upsert",
    "product.updated": "upsert",
    "product.deleted": "delete",
}
_SHOPIFY_TOPICS = {
    "products/create": "upsert",
    "products/update": "upsert",
    "products/delete": "delete",
}


class WebhookRejected(Exception):
    """Unsigned, wrongly signed or stale: answered 401 with this reason."""


class InvalidProduct(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("the product in the webhook is invalid")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class InboundEvent:
    id: str
    topic: str
    action: str | None  # upsert | delete | None (a topic we do not handle)
    product: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChangeResult:
    status: ReceiptStatus
    action: ReceiptAction | None = None
    product_id: str | None = None


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise WebhookRejected("the signed body is not JSON") from None


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> InboundEvent:
    """The verified event, or WebhookRejected saying what was wrong."""
    if "webhook-signature" in headers:
        return _verify_standard(secret, headers, body, time.time() if now is None else now)
    if "x-shopify-hmac-sha256" in headers:
        return _verify_shopify(secret, headers, body)
    raise WebhookRejected(
        "no signature: send Standard Webhooks headers (webhook-id, webhook-timestamp, "
        "webhook-signature) or Shopify's X-Shopify-Hmac-Sha256"
    )


def _verify_standard(
    secret: str, headers: Mapping[str, str], body: bytes, now: float
) -> InboundEvent:
    event_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    # Seconds since 1970 in ASCII digits; twelve of them reach past the year 5000.
    seconds = natural_or_none(timestamp, max_digits=12)
    if not event_id or seconds is None:
        raise WebhookRejected("webhook-id and a numeric webhook-timestamp are required")
    if abs(now - seconds) > TOLERANCE_SECONDS:
        raise WebhookRejected("webhook-timestamp is more than 5 minutes off: stale or replayed")
    if not verify_header(any_key(secret), headers["webhook-signature"], event_id, timestamp, body):
        raise WebhookRejected("no webhook-signature matches: check webhookSecret")
    payload = _decode(body)
    if not isinstance(payload, dict):
        raise WebhookRejected("the body must be an object with type and data")
    topic = str(payload.get("type", ""))
    data = payload.get("data")
    return InboundEvent(
        id=event_id[:200],
        topic=topic.replace("\x00", "")[:64],
        action=_STANDARD_TYPES.get(topic),
        product=data if isinstance(data, dict) else {},
    )


def _verify_shopify(secret: str, headers: Mapping[str, str], body: bytes) -> InboundEvent:
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    if not hmac.compare_digest(expected, headers["x-shopify-hmac-sha256"].strip().encode()):
        raise WebhookRejected("X-Shopify-Hmac-Sha256 does not match: check webhookSecret")
    payload = _decode(body)
    topic = headers.get("x-shopify-topic", "")
    event_id = (
        headers.get("x-shopify-event-id")
        or headers.get("x-shopify-webhook-id")
        or "sha256:" + hashlib.sha256(body).hexdigest()
    )
    return InboundEvent(
        id=event_id[:200],
        topic=topic[:64],
        action=_SHOPIFY_TOPICS.get(topic),
        product=payload if isinstance(payload, dict) else {},
    )


async def receive(session: AsyncSession, config: SyncConfig, event: InboundEvent) -> ChangeResult:
    """Apply a verified event once, in one transaction with its id. Commits."""
    if event.action is None:
        return ChangeResult(status="ignored")
    session.add(
        InboundWebhookEvent(
            merchant_id=config.merchant_id,
            event_id=event.id,
            topic=event.topic,
            received_at=utcnow(),
        )
    )
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return ChangeResult(status="duplicate")
    try:
        result = await apply_product_change(session, config, event)
    except InvalidProduct:
        await session.rollback()
        SYNC_RUNS.labels("webhook", "failed").inc()
        SYNC_ROWS.labels("invalid").inc()
        raise
    await session.commit()
    if result.status == "applied" and result.action != "unchanged":
        forget_vocabulary(config.merchant_id)
    SYNC_RUNS.labels("webhook", "succeeded").inc()
    if result.action:
        SYNC_ROWS.labels(result.action).inc()
    return result


async def apply_product_change(
    session: AsyncSession, config: SyncConfig, event: InboundEvent
) -> ChangeResult:
    """Apply one product change in `session`'s transaction (the caller commits).

    A created, updated or deleted product emits its `product.*` event in the same transaction.
    """
    merchant_id = config.merchant_id
    # A product turned draft or archived stays, hidden from shoppers (records.RawProduct.visible).
    if event.action == "delete":
        existing = await _find(session, merchant_id, event.product)
        if existing is None:
            return ChangeResult(status="ignored")
        await session.delete(existing)
        await session.flush()
        await emit_event(
            session,
            merchant_id=merchant_id,
            event_type="product.deleted",
            data={"id": existing.id, "externalId": existing.external_id},
        )
        return ChangeResult(status="applied", action="deleted", product_id=existing.id)
    raw = object_to_raw(event.product, 1, config.field_mapping or {})
    record, errors = build_record(raw, configs.rules(config))
    if record is None:
        raise InvalidProduct(errors)
    existing = await _find(session, merchant_id, event.product, record.external_id)
    stamp = _updated_at(event.product)
    if existing is not None and stamp and (existing.data or {}).get("sourceUpdatedAt", "") > stamp:
        return ChangeResult(status="ignored", action="unchanged", product_id=existing.id)
    digest = content_hash(record)
    data = {**record.data, **({"sourceUpdatedAt": stamp} if stamp else {})}
    now = utcnow()
    if existing is not None and existing.content_hash == digest:
        existing.data = data
        await session.flush()
        return ChangeResult(status="applied", action="unchanged", product_id=existing.id)
    product = existing or Product(id=new_id("prd"), merchant_id=merchant_id, created_at=now)
    product.external_id = record.external_id
    product.source_id = record.source_id
    product.title = record.title
    product.description = record.description
    product.brand = record.brand
    product.category = record.category
    product.price = record.price
    product.compare_at_price = record.compare_at_price
    product.max_price = record.max_price
    product.currency = record.currency
    product.availability = record.availability
    product.url = record.url
    product.image_url = record.image_url
    product.data = data
    product.variants = record.variants
    product.visible_to_shoppers = record.visible_to_shoppers
    product.colours = record.colours
    product.content_hash = digest
    product.updated_at = now
    if existing is None:
        session.add(product)
    await session.flush()
    action: ReceiptAction = "updated" if existing is not None else "created"
    await emit_event(
        session,
        merchant_id=merchant_id,
        event_type=f"product.{action}",
        data=_product_event(product),
    )
    return ChangeResult(status="applied", action=action, product_id=product.id)


def _product_event(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "externalId": product.external_id,
        "title": product.title,
        # As the products API shows it: "25.00", never "25".
        "price": format_price(product.price, product.currency)
        if product.price is not None
        else None,
        "currency": product.currency,
        "url": product.url,
        "imageUrl": product.image_url,
        "availability": product.availability,
        "brand": product.brand,
        "category": product.category,
    }


def _updated_at(product: dict[str, Any]) -> str | None:
    """The platform's own change time, normalised to UTC ISO text (comparable as text)."""
    value = product.get("updated_at") or product.get("updatedAt")
    if not isinstance(value, str):
        return None
    try:
        return iso_instant(value).isoformat()
    except ParseError:
        return None


async def _find(
    session: AsyncSession,
    merchant_id: str,
    product: dict[str, Any],
    external_id: str | None = None,
) -> Product | None:
    """By the merchant's id (handle or SKU), else by the platform's numeric id: a Shopify
    delete carries only `{"id": 123}`, and a renamed handle keeps its id."""
    keys = []
    wanted = external_id or product.get("handle") or product.get("sku")
    if wanted:
        keys.append(Product.external_id == str(wanted))
    identifier = product.get("id")
    if identifier not in (None, ""):
        keys.append(Product.source_id == str(identifier))
        if not product.get("handle"):
            keys.append(Product.external_id == str(identifier))
    if not keys:
        return None
    found = (
        await session.scalars(
            select(Product).where(Product.merchant_id == merchant_id, or_(*keys)).limit(2)
        )
    ).all()
    # Both keys may match two products (a handle reused): the merchant's own id wins.
    return next((item for item in found if item.external_id == wanted), found[0] if found else None)
