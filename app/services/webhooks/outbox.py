"""The outbox: features record events in the same transaction as the change that caused them.

If that transaction rolls back, the event never existed; if it commits, a worker delivers it
at least once to every subscribed endpoint, even if the process dies right after the commit.
"""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, utcnow
from app.ids import new_id
from app.logs import request_id_var
from app.services.webhooks.events import InvalidEvent, event_data, payload_body

TEST_EVENT = "webhook.test"


async def emit_event(
    session: AsyncSession, *, merchant_id: str, event_type: str, data: dict[str, Any]
) -> str:
    """Queue `event_type` for the merchant's subscribed endpoints; the caller commits.

    Returns the event id (`evt_...`), which receivers see as `webhook-id`. Raises
    `InvalidEvent` (a ValueError) for an unknown type or data that does not fit its schema.
    """
    if event_type == TEST_EVENT:
        raise InvalidEvent("webhook.test is sent only by POST /api/webhooks/endpoints/{id}/test")
    wire_data = event_data(event_type, data)
    now = utcnow()
    event = WebhookEvent(
        id=new_id("evt"),
        merchant_id=merchant_id,
        type=event_type,
        payload=payload_body(event_type, wire_data, now),
        request_id=request_id_var.get(),
        created_at=now,
    )
    # No autoflush: the caller's pending rows (and earlier events) do not affect which
    # endpoints subscribe, and flushing them here would cost round trips per event.
    with session.no_autoflush:
        subscribed = await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.enabled.is_(True)
            )
        )
    session.add(event)
    for endpoint_id, event_types in subscribed:
        if event_types and event_type not in event_types:
            continue
        session.add(
            WebhookAttempt(
                id=new_id("att"),
                merchant_id=merchant_id,
                event=event,
                endpoint_id=endpoint_id,
                event_type=event_type,
                attempt=1,
                trigger="event",
                status="pending",
                scheduled_at=now,
                due_at=now,
                created_at=now,
            )
        )
    return event.id
