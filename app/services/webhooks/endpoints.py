"""Webhook endpoints: create, change, disable, rotate secrets. Every query is scoped to the
merchant, so another merchant's endpoint id behaves exactly like one that does not exist."""

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookAttempt, WebhookEndpoint, utcnow
from app.ids import new_id
from app.services.netguard import UnsafeTarget, check_target
from app.services.webhooks.signing import new_secret

MAX_ENDPOINTS = 50
ROTATION_GRACE = timedelta(hours=24)
_DNS_TIMEOUT_SECONDS = 5.0
DISABLED_REASONS = ("manual", "gone", "failing")


class TooManyEndpoints(Exception):
    pass


async def check_endpoint_url(url: str, *, allow_private: bool) -> None:
    """Raise UnsafeTarget unless `url` may receive webhooks right now (checked again per send)."""
    try:
        async with asyncio.timeout(_DNS_TIMEOUT_SECONDS):
            await check_target(url, allow_private=allow_private)
    except TimeoutError:
        raise UnsafeTarget("the host did not resolve in time") from None


async def create_endpoint(
    session: AsyncSession,
    *,
    merchant_id: str,
    url: str,
    description: str,
    event_types: Sequence[str],
) -> WebhookEndpoint:
    """Add an endpoint with a fresh secret. Commits."""
    count = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise TooManyEndpoints(f"a merchant has at most {MAX_ENDPOINTS} webhook endpoints")
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("whe"),
        merchant_id=merchant_id,
        url=url,
        description=description,
        event_types=list(event_types),
        enabled=True,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.commit()
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[str] | None = None,
) -> WebhookEndpoint:
    """Change what is given (None keeps the current value). Commits."""
    if url is not None:
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if event_types is not None:
        endpoint.event_types = list(event_types)
    endpoint.updated_at = utcnow()
    await session.commit()
    return endpoint


async def list_endpoints(
    session: AsyncSession, merchant_id: str, *, limit: int, after: str | None
) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id)
        .order_by(WebhookEndpoint.id)
    )
    if after:
        query = query.where(WebhookEndpoint.id > after)
    return list(await session.scalars(query.limit(limit)))


async def get_endpoint(
    session: AsyncSession, merchant_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.id == endpoint_id
        )
    )


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Delete it with its queued attempts and its log. Commits. Attempts go explicitly, not
    only by ON DELETE CASCADE, which SQLite enforces per connection."""
    await session.execute(
        delete(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == endpoint.id)
        .execution_options(synchronize_session=False)
    )
    await session.delete(endpoint)
    await session.commit()


def signing_secrets(
    secret: str, previous: str | None, previous_expires_at: datetime | None, now: datetime
) -> tuple[str, ...]:
    """The secrets that sign now: the current one, plus the previous during its grace."""
    if previous and previous_expires_at is not None and previous_expires_at > now:
        return (secret, previous)
    return (secret,)


async def rotate_secret(session: AsyncSession, endpoint: WebhookEndpoint) -> str:
    """A new current secret; the old one keeps signing for 24 h. Rotating again within that
    window ends the older secret's grace at once (only two secrets ever sign). Commits."""
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_GRACE
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    await session.commit()
    return endpoint.secret


async def enable(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Deliveries resume for new events; the failure clock starts afresh. Commits."""
    if endpoint.enabled:
        return
    endpoint.enabled = True
    endpoint.disabled_reason = None
    endpoint.disabled_at = None
    endpoint.failing_since = None
    endpoint.updated_at = utcnow()
    await session.commit()


async def disable(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """An operator's disable (reason `manual`), with its pending attempts cancelled. Commits."""
    await disable_endpoints(session, [endpoint.id], reason="manual")
    await session.commit()
    await session.refresh(endpoint)


async def disable_endpoints(
    session: AsyncSession, endpoint_ids: Iterable[str], *, reason: str
) -> list[str]:
    """Disable the enabled ones among `endpoint_ids` and cancel their pending attempts (a
    disabled endpoint receives nothing; the log says why). Returns those newly disabled; the
    caller commits (the dispatcher, with the rest of its batch)."""
    assert reason in DISABLED_REASONS, reason
    ids = sorted(set(endpoint_ids))
    if not ids:
        return []
    now = utcnow()
    disabled = list(
        await session.scalars(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(ids), WebhookEndpoint.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now)
            .returning(WebhookEndpoint.id)
            .execution_options(synchronize_session=False)
        )
    )
    if disabled:
        await session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id.in_(disabled), WebhookAttempt.status == "pending")
            .values(
                status="failed",
                due_at=None,
                error=f"not sent: the endpoint was disabled ({reason})",
            )
            .execution_options(synchronize_session=False)
        )
    return disabled
