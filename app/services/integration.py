"""How far a merchant's integration has come, from what the platform has recorded: the
portal overview's checklist. Each question is one small indexed query."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey, Product, SyncRun, WebhookAttempt, WebhookEndpoint, WidgetEvent
from app.db.models import utcnow as now
from app.services.domains import get_domains, host_allowed, origin_host

RECENT = timedelta(days=7)  # "in use" means within this


@dataclass(frozen=True, slots=True)
class CatalogState:
    products: int
    last_run: SyncRun | None


@dataclass(frozen=True, slots=True)
class WidgetState:
    domains: tuple[str, ...]
    last_load_at: datetime | None
    last_origin: str | None
    origin_allowed: bool


@dataclass(frozen=True, slots=True)
class WebhookState:
    endpoints: int
    enabled: int
    succeeded: int  # attempts in the last 24 h
    failed: int

    @property
    def success_rate(self) -> float | None:
        done = self.succeeded + self.failed
        return self.succeeded / done if done else None


@dataclass(frozen=True, slots=True)
class KeyState:
    active_secret: int
    secret_last_used: datetime | None
    publishable_last_used: datetime | None


async def catalog_state(session: AsyncSession, merchant_id: str) -> CatalogState:
    products = await session.scalar(
        select(func.count()).select_from(Product).where(Product.merchant_id == merchant_id)
    )
    last_run = await session.scalar(
        select(SyncRun).where(SyncRun.merchant_id == merchant_id).order_by(SyncRun.id.desc())
    )
    return CatalogState(int(products or 0), last_run)


async def widget_state(session: AsyncSession, merchant_id: str) -> WidgetState:
    domains = await get_domains(session, merchant_id)
    last = (
        await session.execute(
            select(WidgetEvent.created_at, WidgetEvent.origin)
            .where(WidgetEvent.merchant_id == merchant_id, WidgetEvent.type == "widget_loaded")
            .order_by(WidgetEvent.created_at.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return WidgetState(domains, None, None, False)
    host = origin_host(last.origin) if last.origin else None
    allowed = host is not None and (not domains or host_allowed(host, domains))
    return WidgetState(domains, last.created_at, last.origin, allowed)


async def webhook_state(session: AsyncSession, merchant_id: str) -> WebhookState:
    endpoints = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((WebhookEndpoint.enabled, 1), else_=0)), 0),
            ).where(WebhookEndpoint.merchant_id == merchant_id)
        )
    ).one()
    counted = await session.execute(
        select(WebhookAttempt.status, func.count())
        .where(
            WebhookAttempt.merchant_id == merchant_id,
            WebhookAttempt.attempted_at >= now() - timedelta(hours=24),
            WebhookAttempt.status.in_(("succeeded", "failed")),
        )
        .group_by(WebhookAttempt.status)
    )
    attempts = {status: int(count) for status, count in counted}
    return WebhookState(
        endpoints=int(endpoints[0]),
        enabled=int(endpoints[1]),
        succeeded=attempts.get("succeeded", 0),
        failed=attempts.get("failed", 0),
    )


async def key_state(session: AsyncSession, merchant_id: str) -> KeyState:
    live = (ApiKey.merchant_id == merchant_id, ApiKey.revoked_at.is_(None))
    rows = await session.execute(
        select(ApiKey.kind, func.count(), func.max(ApiKey.last_used_at))
        .where(*live)
        .group_by(ApiKey.kind)
    )
    by_kind = {kind: (int(count), last_used) for kind, count, last_used in rows}
    secret = by_kind.get("secret", (0, None))
    return KeyState(
        active_secret=secret[0],
        secret_last_used=secret[1],
        publishable_last_used=by_kind.get("publishable", (0, None))[1],
    )
