"""The delivery log: every attempt with its status, latency and response snippet; manual
retries and test events are attempts too."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, utcnow
from app.ids import new_id
from app.logs import request_id_var
from app.services.webhooks.events import event_data, payload_body
from app.services.webhooks.outbox import TEST_EVENT

UNFINISHED = ("pending", "sending")


class RetryConflict(Exception):
    """The attempt cannot be retried now; the message says why."""


async def list_attempts(
    session: AsyncSession,
    merchant_id: str,
    *,
    limit: int,
    before: str | None,
    endpoint_id: str | None = None,
    event_id: str | None = None,
    event_type: str | None = None,
    status: str | None = None,
) -> list[WebhookAttempt]:
    """Newest first; `before` is the last id of the previous page."""
    query = select(WebhookAttempt).where(WebhookAttempt.merchant_id == merchant_id)
    if endpoint_id:
        query = query.where(WebhookAttempt.endpoint_id == endpoint_id)
    if event_id:
        query = query.where(WebhookAttempt.event_id == event_id)
    if event_type:
        query = query.where(WebhookAttempt.event_type == event_type)
    if status:
        query = query.where(WebhookAttempt.status == status)
    if before:
        query = query.where(WebhookAttempt.id < before)
    return list(await session.scalars(query.order_by(WebhookAttempt.id.desc()).limit(limit)))


async def get_attempt(
    session: AsyncSession, merchant_id: str, attempt_id: str
) -> tuple[WebhookAttempt, WebhookEvent] | None:
    row = (
        await session.execute(
            select(WebhookAttempt, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookAttempt.event_id)
            .where(WebhookAttempt.merchant_id == merchant_id, WebhookAttempt.id == attempt_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def retry_attempt(session: AsyncSession, attempt: WebhookAttempt) -> WebhookAttempt:
    """Queue one more attempt of the same event to the same endpoint, due now (same
    `webhook-id`). One-off: if it fails, it is not retried on the schedule. Commits."""
    endpoint = await session.get(WebhookEndpoint, attempt.endpoint_id)
    assert endpoint is not None  # attempts are deleted with their endpoint
    if not endpoint.enabled:
        raise RetryConflict("the endpoint is disabled; enable it first")
    unfinished = await session.scalar(
        select(WebhookAttempt.id).where(
            WebhookAttempt.event_id == attempt.event_id,
            WebhookAttempt.endpoint_id == attempt.endpoint_id,
            WebhookAttempt.status.in_(UNFINISHED),
        )
    )
    if unfinished is not None:
        raise RetryConflict(f"attempt {unfinished} of this event is already queued")
    highest = await session.scalar(
        select(func.max(WebhookAttempt.attempt)).where(
            WebhookAttempt.event_id == attempt.event_id,
            WebhookAttempt.endpoint_id == attempt.endpoint_id,
        )
    )
    now = utcnow()
    retry = WebhookAttempt(
        id=new_id("att"),
        merchant_id=attempt.merchant_id,
        event_id=attempt.event_id,
        endpoint_id=attempt.endpoint_id,
        event_type=attempt.event_type,
        attempt=(highest or 0) + 1,
        trigger="manual",
        status="pending",
        scheduled_at=now,
        due_at=now,
        created_at=now,
    )
    session.add(retry)
    await session.commit()
    return retry


async def new_test_attempt(
    session: AsyncSession, endpoint: WebhookEndpoint, *, claim: str, lease_seconds: float
) -> tuple[WebhookAttempt, WebhookEvent]:
    """A `webhook.test` event and its attempt, already claimed by the caller, who sends it
    at once; should the caller die, a worker sends it when the lease runs out. Commits."""
    now = utcnow()
    data = event_data(
        TEST_EVENT,
        {"endpointId": endpoint.id, "message": "Hello from RAG Assistant: a test event."},
    )
    event = WebhookEvent(
        id=new_id("evt"),
        merchant_id=endpoint.merchant_id,
        type=TEST_EVENT,
        payload=payload_body(TEST_EVENT, data, now),
        request_id=request_id_var.get(),
        created_at=now,
    )
    attempt = WebhookAttempt(
        id=new_id("att"),
        merchant_id=endpoint.merchant_id,
        event=event,
        endpoint_id=endpoint.id,
        event_type=TEST_EVENT,
        attempt=1,
        trigger="test",
        status="sending",
        scheduled_at=now,
        due_at=now + timedelta(seconds=lease_seconds),
        claimed_by=claim,
        created_at=now,
    )
    session.add(attempt)
    await session.commit()
    return attempt, event
