"""Keep the outbox and the delivery log bounded: events older than WEBHOOK_RETENTION_DAYS go,
with their attempts, once nothing of theirs is still queued."""

from datetime import timedelta

from sqlalchemy import delete, exists, select

from app.db.models import WebhookAttempt, WebhookEvent, utcnow
from app.platform import Platform

PRUNE_BATCH = 500


async def prune_webhook_log(platform: Platform) -> int:
    """The worker job: delete one bounded batch of expired events; how many went."""
    cutoff = utcnow() - timedelta(days=platform.settings.webhook_retention_days)
    unfinished = exists().where(
        WebhookAttempt.event_id == WebhookEvent.id, WebhookAttempt.due_at.is_not(None)
    )
    async with platform.sessions() as session:
        expired = list(
            await session.scalars(
                select(WebhookEvent.id)
                .where(WebhookEvent.created_at < cutoff, ~unfinished)
                .order_by(WebhookEvent.created_at)
                .limit(PRUNE_BATCH)
            )
        )
        if not expired:
            return 0
        # Attempts go explicitly rather than by ON DELETE CASCADE alone, so the delete does
        # not depend on SQLite's per-connection foreign_keys pragma.
        await session.execute(
            delete(WebhookAttempt)
            .where(WebhookAttempt.event_id.in_(expired))
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            delete(WebhookEvent)
            .where(WebhookEvent.id.in_(expired))
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return len(expired)
