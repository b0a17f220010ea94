"""The attempt queue in the database: claim due attempts, record what happened to them.

Claiming is one UPDATE over a `FOR UPDATE SKIP LOCKED` subquery on PostgreSQL, so concurrent
workers never take the same attempt; on SQLite (a single writer) the same single statement is
atomic. A claim is a lease: the attempt's `due_at` becomes the lease's end, and results are
recorded only by the claim that still holds it, so a worker that was presumed dead cannot
overwrite the outcome of the worker that took over.
"""

import logging
import random
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from app.ids import new_id
from app.logs import LogFields
from app.services.webhooks.endpoints import disable_endpoints, signing_secrets
from app.services.webhooks.policy import SCHEDULED_TRIGGERS, retry_delay
from app.services.webhooks.sender import Delivery, Outcome
from app.settings import Settings

log = logging.getLogger(__name__)

Result = tuple[Delivery, Outcome]


async def claim_due(
    session: AsyncSession,
    *,
    limit: int,
    claim: str,
    lease_seconds: float,
    now: datetime,
    skip_endpoints: Collection[str] = (),
) -> list[Delivery]:
    """Take up to `limit` due attempts (pending, or sending with a lapsed lease), oldest
    first, leaving alone the endpoints in `skip_endpoints` (busy in this worker)."""
    due = WebhookAttempt.due_at <= now
    if skip_endpoints:
        due = due & WebhookAttempt.endpoint_id.not_in(list(skip_endpoints))
    candidates = (
        select(WebhookAttempt.id)
        .where(due)
        .order_by(WebhookAttempt.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # The subquery alone decides: it locks (PostgreSQL) or runs under the write lock (SQLite),
    # and repeating its condition outside would make PostgreSQL scan the whole backlog.
    claimed = list(
        await session.scalars(
            update(WebhookAttempt)
            .where(WebhookAttempt.id.in_(candidates))
            .values(
                status="sending", claimed_by=claim, due_at=now + timedelta(seconds=lease_seconds)
            )
            .returning(WebhookAttempt.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    return await load_deliveries(session, claimed, claim=claim, now=now)


async def load_deliveries(
    session: AsyncSession, attempt_ids: Sequence[str], *, claim: str, now: datetime
) -> list[Delivery]:
    rows = await session.execute(
        select(
            WebhookAttempt.id,
            WebhookAttempt.merchant_id,
            WebhookAttempt.event_id,
            WebhookAttempt.event_type,
            WebhookAttempt.endpoint_id,
            WebhookAttempt.attempt,
            WebhookAttempt.trigger,
            WebhookEvent.payload,
            WebhookEvent.request_id,
            WebhookEndpoint.url,
            WebhookEndpoint.enabled,
            WebhookEndpoint.secret,
            WebhookEndpoint.previous_secret,
            WebhookEndpoint.previous_secret_expires_at,
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookAttempt.event_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookAttempt.endpoint_id)
        .where(WebhookAttempt.id.in_(attempt_ids))
        .order_by(WebhookAttempt.due_at)
    )
    deliveries = []
    for row in rows:
        deliveries.append(
            Delivery(
                attempt_id=row.id,
                claim=claim,
                merchant_id=row.merchant_id,
                event_id=row.event_id,
                event_type=row.event_type,
                endpoint_id=row.endpoint_id,
                attempt=row.attempt,
                trigger=row.trigger,
                url=row.url,
                secrets=signing_secrets(
                    row.secret, row.previous_secret, row.previous_secret_expires_at, now
                ),
                payload=row.payload,
                request_id=row.request_id,
                endpoint_enabled=row.enabled,
            )
        )
    return deliveries


async def record_results(
    session: AsyncSession,
    results: Sequence[Result],
    *,
    settings: Settings,
    rng: random.Random,
    now: datetime,
) -> list[Result]:
    """Store outcomes, schedule retries and update endpoint health, for the attempts this
    claim still holds; the others (lease lost, endpoint deleted) are dropped. The caller
    commits. Returns what was recorded."""
    holders = dict(
        (
            await session.execute(
                select(WebhookAttempt.id, WebhookAttempt.claimed_by)
                .where(
                    WebhookAttempt.id.in_([d.attempt_id for d, _ in results]),
                    WebhookAttempt.status == "sending",
                )
                .with_for_update()
            )
        ).all()
    )
    owned = [(d, o) for d, o in results if holders.get(d.attempt_id) == d.claim]
    if not owned:
        return []
    # Tests are diagnostics: they neither disable an endpoint nor vouch for its health.
    await _update_health(
        session, [(d, o) for d, o in owned if o.sent and d.trigger != "test"], settings, now
    )
    enabled = set(
        await session.scalars(
            select(WebhookEndpoint.id).where(
                WebhookEndpoint.id.in_({d.endpoint_id for d, _ in owned}),
                WebhookEndpoint.enabled.is_(True),
            )
        )
    )
    updates, retries = [], []
    for delivery, outcome in owned:
        next_at = None
        if (
            outcome.sent
            and not outcome.succeeded
            and delivery.trigger in SCHEDULED_TRIGGERS
            and delivery.endpoint_id in enabled
        ):
            delay = retry_delay(
                settings.webhook_retry_schedule, delivery.attempt, outcome.retry_after, rng
            )
            if delay is not None:
                next_at = now + timedelta(seconds=delay)
                retries.append(_retry_row(delivery, next_at, now))
        updates.append(
            {
                "id": delivery.attempt_id,
                "status": "succeeded" if outcome.succeeded else "failed",
                "due_at": None,
                "attempted_at": outcome.attempted_at if outcome.sent else None,
                "response_status": outcome.response_status,
                "latency_ms": outcome.latency_ms,
                "response_snippet": outcome.snippet,
                "error": outcome.error,
                "next_attempt_at": next_at,
            }
        )
    await session.execute(update(WebhookAttempt), updates)
    if retries:
        await session.execute(insert(WebhookAttempt), retries)
    return owned


def _retry_row(delivery: Delivery, due: datetime, now: datetime) -> dict[str, object]:
    return {
        "id": new_id("att"),
        "merchant_id": delivery.merchant_id,
        "event_id": delivery.event_id,
        "endpoint_id": delivery.endpoint_id,
        "event_type": delivery.event_type,
        "attempt": delivery.attempt + 1,
        "trigger": "retry",
        "status": "pending",
        "scheduled_at": due,
        "due_at": due,
        "created_at": now,
    }


async def _update_health(
    session: AsyncSession, sent: Sequence[Result], settings: Settings, now: datetime
) -> None:
    """410 disables at once; failing without a success for the configured time disables too."""
    if not sent:
        return
    healthy = {d.endpoint_id for d, o in sent if o.succeeded}
    failing = {d.endpoint_id for d, o in sent if not o.succeeded} - healthy
    gone = {d.endpoint_id for d, o in sent if o.gone}
    # Conditional updates lock and write nothing in the steady state (healthy stays healthy).
    if healthy:
        await session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id.in_(healthy), WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None)
            .execution_options(synchronize_session=False)
        )
    for endpoint_id in await disable_endpoints(session, gone, reason="gone"):
        log.warning("webhook endpoint disabled: 410 Gone", extra=LogFields(endpointId=endpoint_id))
    if not failing:
        return
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id.in_(failing), WebhookEndpoint.failing_since.is_(None))
        .values(failing_since=now)
        .execution_options(synchronize_session=False)
    )
    cutoff = now - timedelta(seconds=settings.webhook_disable_after_seconds)
    stale = await session.scalars(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.id.in_(failing),
            WebhookEndpoint.enabled.is_(True),
            WebhookEndpoint.failing_since <= cutoff,
        )
    )
    for endpoint_id in await disable_endpoints(session, list(stale), reason="failing"):
        log.warning(
            "webhook endpoint disabled: failing for too long",
            extra=LogFields(
                endpointId=endpoint_id, afterSeconds=settings.webhook_disable_after_seconds
            ),
        )
